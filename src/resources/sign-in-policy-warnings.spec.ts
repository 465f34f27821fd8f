import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { Logger } from '@nestjs/common';
import type { ResourcesService } from './resources.service.js';
import type { ResourceServerEntity } from './resource-server.entity.js';
import { SignInPolicyWarnings } from './sign-in-policy-warnings.js';
import type { SignInPolicy } from './sign-in-policy.js';

function resource(name: string, signIn: SignInPolicy, loginMethod: 'gatehouse' | 'external' = 'gatehouse'): ResourceServerEntity {
  return { id: `id-${name}`, name, resource: `https://${name}.example.com/mcp`, loginMethod, signIn } as ResourceServerEntity;
}

describe('SignInPolicyWarnings', () => {
  it('warns once per Gatehouse-login resource server that admits everyone, and names them for the boot summary', async (t) => {
    const warned: unknown[] = [];
    t.mock.method(Logger.prototype, 'warn', (message: unknown) => void warned.push(message));
    const resources = {
      list: async () => [
        resource('open', { providers: null, allow: 'everyone' }),
        resource('open-github', { providers: ['github'], allow: 'everyone' }),
        resource('closed', { providers: null, allow: {} }),
        resource('orgs', { providers: null, allow: { github_organizations: ['acme'] } }),
        resource('product', { providers: null, allow: 'everyone' }, 'external'),
      ],
    } as unknown as ResourcesService;
    const warnings = new SignInPolicyWarnings(resources);
    await warnings.onApplicationBootstrap();
    assert.deepEqual(warnings.openResources, ['open', 'open-github']);
    assert.deepEqual(
      warned.map((message) => (message as { resource: string }).resource),
      ['https://open.example.com/mcp', 'https://open-github.example.com/mcp'],
    );
    assert.match((warned[0] as { msg: string }).msg, /admits everyone/);
  });
});
