import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { FakeGithub } from '../fakes/fake-github.js';
import { createResource, startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { assertOAuthError, exchangeCode, obtainCode, registerClient, storageHash, type TestClient } from '../support/flows.js';

/** AUTHORIZATION_CODE_TTL: a code lives as long as configured, and not a second longer. */
describe('authorization code lifetime (AUTHORIZATION_CODE_TTL)', () => {
  let github: FakeGithub;
  let gatehouse: RunningGatehouse;
  let resource: string;
  let client: TestClient;

  before(async () => {
    github = await new FakeGithub().start();
    gatehouse = await startGatehouse({ github, env: { AUTHORIZATION_CODE_TTL: '10' } });
    resource = (await createResource(gatehouse, { resource: 'https://mcp.example.test/mcp', scopes: ['tools:read'], default_scopes: ['tools:read'] })).resource;
    client = await registerClient(gatehouse);
  });
  after(async () => {
    await gatehouse?.close();
    await github?.stop();
  });

  async function lifetimeSeconds(code: string): Promise<number> {
    const rows = (await gatehouse.db.query(`SELECT extract(epoch FROM expires_at - created_at)::float8 AS seconds FROM authorization_codes WHERE code_hash = $1`, [storageHash(code)])) as Array<{ seconds: number }>;
    return rows[0]!.seconds;
  }

  /** Moves the code's issue and expiry `seconds` into the past, as if it had been issued that long ago. */
  async function age(code: string, seconds: number): Promise<void> {
    await gatehouse.db.query(
      `UPDATE authorization_codes SET created_at = created_at - make_interval(secs => $2), expires_at = expires_at - make_interval(secs => $2) WHERE code_hash = $1`,
      [storageHash(code), seconds],
    );
  }

  it('issues codes that expire AUTHORIZATION_CODE_TTL seconds after they are issued', async () => {
    const obtained = await obtainCode(gatehouse, { client, resource });
    assert.ok(Math.abs((await lifetimeSeconds(obtained.code)) - 10) < 1, 'expires_at is 10 s after created_at');
    const exchanged = await exchangeCode(gatehouse, { client }, obtained);
    assert.equal(exchanged.status, 200, exchanged.text);
  });

  it('refuses a code older than the lifetime with invalid_grant, though the 60 s default would have taken it', async () => {
    const obtained = await obtainCode(gatehouse, { client, resource });
    await age(obtained.code, 11);
    assertOAuthError(await exchangeCode(gatehouse, { client }, obtained), 400, 'invalid_grant', 'code issued 11 s ago');
  });
});
