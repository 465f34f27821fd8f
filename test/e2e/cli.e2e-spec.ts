import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, startServerProcess, exitOf } from '../support/processes.js';
import { freePort } from '../support/net.js';

describe('CLI and the start command on the embedded database', () => {
  let dataDir: string;
  let env: Record<string, string>;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'gatehouse-cli-'));
    env = { DATA_DIR: dataDir, LOG_LEVEL: 'warn' };
  });
  after(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('administers resources, clients and keys without ADMIN_TOKEN, printing JSON', async () => {
    const created = await runCli(['resources', 'create', '--name', 'Docs MCP', '--resource', 'https://mcp.example.com/mcp', '--scopes', 'docs:read,docs:write', '--default-scopes', 'docs:read'], env);
    assert.equal(created.code, 0, created.stderr);
    const resource = JSON.parse(created.stdout) as { id: string; resource: string; default_scopes: string[]; registration_secret: string };
    assert.equal(resource.resource, 'https://mcp.example.com/mcp');
    assert.deepEqual(resource.default_scopes, ['docs:read']);
    assert.match(resource.registration_secret, /^gh_rs_/);

    const listed = await runCli(['resources', 'list'], env);
    assert.deepEqual((JSON.parse(listed.stdout) as Array<{ id: string }>).map((r) => r.id), [resource.id]);

    const updated = await runCli(['resources', 'update', resource.id, '--access-token-ttl', '900'], env);
    assert.equal((JSON.parse(updated.stdout) as { access_token_ttl: number }).access_token_ttl, 900);

    assert.deepEqual((JSON.parse(created.stdout) as { sign_in: unknown }).sign_in, { providers: null, allow: {} }, 'nobody may sign in until a policy is set');
    const byOrg = await runCli(['resources', 'update', resource.id, '--allow-github-orgs', 'Acme,other', '--allow-github-teams', 'acme/platform', '--sign-in-providers', 'github'], env);
    assert.equal(byOrg.code, 0, byOrg.stderr);
    assert.deepEqual((JSON.parse(byOrg.stdout) as { sign_in: unknown }).sign_in, {
      providers: ['github'],
      allow: { github_organizations: ['acme', 'other'], github_teams: ['acme/platform'] },
    });
    const asJson = await runCli(['resources', 'update', resource.id, '--sign-in', '{"providers": null, "allow": {"oidc_groups": ["mcp-users"]}}'], env);
    assert.deepEqual((JSON.parse(asJson.stdout) as { sign_in: unknown }).sign_in, { providers: null, allow: { oidc_groups: ['mcp-users'] } });
    const badTeam = await runCli(['resources', 'update', resource.id, '--allow-github-teams', 'platform'], env);
    assert.equal(badTeam.code, 1);
    assert.match(badTeam.stderr, /org\/team-slug/);
    const everyone = await runCli(['resources', 'update', resource.id, '--allow-everyone'], env);
    assert.deepEqual((JSON.parse(everyone.stdout) as { sign_in: unknown }).sign_in, { providers: null, allow: 'everyone' });

    const invalid = await runCli(['resources', 'create', '--name', 'Bad', '--resource', 'http://example.com/mcp', '--scopes', 'a'], env);
    assert.equal(invalid.code, 1);
    assert.equal((JSON.parse(invalid.stderr.trim().split('\n').pop()!) as { error: string }).error, 'invalid_request');

    const usage = await runCli(['resources', 'frobnicate'], env);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /unknown command/);

    const client = await runCli(['clients', 'create', '--redirect-uri', 'http://127.0.0.1/cb', '--name', 'Desktop', '--auth-method', 'none', '--grant-types', 'authorization_code,refresh_token'], env);
    assert.equal(client.code, 0, client.stderr);
    assert.equal((JSON.parse(client.stdout) as { kind: string }).kind, 'static');

    const clientId = (JSON.parse(client.stdout) as { client_id: string }).client_id;
    const revokedNone = await runCli(['clients', 'revoke-grants', clientId], env);
    assert.deepEqual(JSON.parse(revokedNone.stdout), { revoked: 0, consents_cleared: 0 });
    const unknownUser = await runCli(['users', 'grants', '00000000-0000-4000-8000-000000000000'], env);
    assert.equal(unknownUser.code, 1);
    assert.equal((JSON.parse(unknownUser.stderr.trim().split('\n').pop()!) as { error: string }).error, 'not_found');

    const before = JSON.parse((await runCli(['keys', 'list'], env)).stdout) as { keys: Array<{ kid: string }> };
    const rotation = JSON.parse((await runCli(['keys', 'rotate'], env)).stdout) as { retired: string; active: string; next: string };
    const afterRotation = JSON.parse((await runCli(['keys', 'list'], env)).stdout) as { keys: Array<{ kid: string }> };
    assert.equal(before.keys.length, 2, 'active and next are published from the start');
    assert.ok(before.keys.some((k) => k.kid === rotation.active), 'the key that now signs was already published');
    assert.deepEqual(afterRotation.keys.map((k) => k.kid).sort(), [rotation.retired, rotation.active, rotation.next].sort(), 'the retired key stays published');
  });

  it('starts the server with the README command line, serves metadata, refuses a second process on the same data, and stops on SIGTERM', async () => {
    const port = await freePort();
    const server = await startServerProcess({ ...env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info' });
    try {
      const metadata = (await (await fetch(`http://localhost:${port}/.well-known/oauth-authorization-server`)).json()) as { issuer: string; scopes_supported: string[] };
      assert.equal(metadata.issuer, `http://localhost:${port}`);
      assert.deepEqual(metadata.scopes_supported, ['docs:read', 'docs:write'], 'sees what the CLI wrote');
      assert.match(server.output(), /GITHUB_CLIENT_ID/, 'says plainly that GitHub sign-in needs configuring');

      const blocked = await runCli(['resources', 'list'], env);
      assert.equal(blocked.code, 1);
      assert.match(blocked.stderr, /in use by process \d+/);
    } finally {
      server.child.kill('SIGTERM');
    }
    assert.equal(await exitOf(server.child), 0);
    await assert.rejects(stat(join(dataDir, 'pglite', 'gatehouse.lock')), 'the lock is released on shutdown');
  });

  it('finds, disables and enables users, and sets identity claims', async () => {
    const created = await runCli(['resources', 'create', '--name', 'Users MCP', '--resource', 'https://users.example.com/mcp', '--scopes', 'a', '--default-scopes', 'a', '--identity-claims', 'idp,name'], env);
    assert.equal(created.code, 0, created.stderr);
    const resource = JSON.parse(created.stdout) as { identity_claims: string[]; registration_secret: string };
    assert.deepEqual(resource.identity_claims, ['name', 'idp'], 'in the catalogue’s order');
    const refused = await runCli(['resources', 'create', '--name', 'Bad', '--resource', 'https://bad.example.com/mcp', '--scopes', 'a', '--identity-claims', 'password'], env);
    assert.equal(refused.code, 1);
    const client = JSON.parse((await runCli(['clients', 'create', '--redirect-uri', 'http://127.0.0.1/cb', '--grant-types', 'authorization_code,refresh_token'], env)).stdout) as { client_id: string };

    const port = await freePort();
    const server = await startServerProcess({ ...env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info' });
    try {
      const minted = await fetch(`http://localhost:${port}/api/oauth/token/exchange`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${resource.registration_secret}` },
        body: JSON.stringify({ client_id: client.client_id, subject: 'cli-user-7' }),
      });
      assert.equal(minted.status, 200);
    } finally {
      server.child.kill('SIGTERM');
    }
    assert.equal(await exitOf(server.child), 0);

    const found = JSON.parse((await runCli(['users', 'find', 'cli-user-7'], env)).stdout) as Array<{ id: string; live_grants: number; disabled: boolean }>;
    assert.equal(found.length, 1, 'found by the product’s own id');
    assert.deepEqual([found[0]!.live_grants, found[0]!.disabled], [1, false]);
    const disabled = JSON.parse((await runCli(['users', 'disable', found[0]!.id], env)).stdout) as { disabled: boolean; live_grants: number };
    assert.deepEqual([disabled.disabled, disabled.live_grants], [true, 0]);
    const enabled = JSON.parse((await runCli(['users', 'enable', found[0]!.id], env)).stdout) as { disabled: boolean };
    assert.equal(enabled.disabled, false);
    const unknown = await runCli(['users', 'disable', 'github:nobody'], env);
    assert.equal(unknown.code, 1);
    assert.equal((JSON.parse(unknown.stderr.trim().split('\n').pop()!) as { error: string }).error, 'not_found');
  });
});

describe('configuration errors', () => {
  it('stop the process with a message naming the variable', async () => {
    const result = await runCli(['resources', 'list'], { ISSUER: 'http://example.com', DATA_DIR: join(tmpdir(), 'never-created') });
    assert.equal(result.code, 78);
    assert.match(result.stderr, /ISSUER/);
  });
});
