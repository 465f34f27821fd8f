import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { GatehouseError, mintToken } from './index.js';

describe('gatehouse-client', () => {
  it('imports nothing: no package, and nothing from the rest of Gatehouse', async () => {
    // Runs from the package's dist/; the sources sit beside it in src/.
    const dir = fileURLToPath(new URL('../src/', import.meta.url));
    for (const file of (await readdir(dir)).filter((name) => name.endsWith('.ts') && !name.endsWith('.spec.ts'))) {
      const source = await readFile(`${dir}${file}`, 'utf8');
      const imports = [...source.matchAll(/^\s*(?:import|export)[^'"]*from\s+['"]([^'"]+)['"]/gm)].map((match) => match[1]);
      assert.deepEqual(imports.filter((path) => !path?.startsWith('./')), [], `${file} imports ${imports.join(', ')}`);
    }
  });

  it('sends the mint request the API expects, through an injected fetch', async () => {
    let seen: { url: string; init: RequestInit } | undefined;
    const fakeFetch = (async (url: URL, init: RequestInit) => {
      seen = { url: String(url), init };
      return new Response(JSON.stringify({ access_token: 'at', token_type: 'Bearer', expires_in: 60, refresh_token: 'rt', scope: 'a' }), { status: 200 });
    }) as unknown as typeof fetch;
    const set = await mintToken({ baseUrl: 'https://auth.example.com/', fetch: fakeFetch, registrationSecret: 'gh_rs_s', clientId: 'c', subject: 'u', scopes: ['a'] });
    assert.deepEqual(set, { accessToken: 'at', tokenType: 'Bearer', expiresIn: 60, refreshToken: 'rt', scope: 'a' });
    assert.equal(seen?.url, 'https://auth.example.com/api/oauth/token/exchange');
    assert.equal((seen?.init.headers as Record<string, string>).authorization, 'Bearer gh_rs_s');
    assert.deepEqual(JSON.parse(String(seen?.init.body)), { client_id: 'c', subject: 'u', scopes: ['a'] });
  });

  it('turns error responses into GatehouseError with the OAuth code, even without a JSON body', async () => {
    const answer = (status: number, body: string) => (async () => new Response(body, { status })) as unknown as typeof fetch;
    await assert.rejects(mintToken({ baseUrl: 'https://a.example', fetch: answer(400, '{"error":"invalid_scope","error_description":"nope"}'), registrationSecret: 's', clientId: 'c', subject: 'u' }), (error: unknown) => {
      return error instanceof GatehouseError && error.error === 'invalid_scope' && error.errorDescription === 'nope' && error.status === 400;
    });
    await assert.rejects(mintToken({ baseUrl: 'https://a.example', fetch: answer(502, '<html>bad gateway</html>'), registrationSecret: 's', clientId: 'c', subject: 'u' }), (error: unknown) => {
      return error instanceof GatehouseError && error.error === 'server_error' && error.status === 502;
    });
  });
});
