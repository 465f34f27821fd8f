import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, startServerProcess, exitOf } from '../support/processes.js';
import { seedPglite } from '../support/pglite-template.js';
import { freePort } from '../support/net.js';
import { PGlite } from '@electric-sql/pglite';
import { MIGRATIONS } from '../../migrations/index.js';

/**
 * Each command is a `gatehouse` process. With no server running, the CLI starts the application itself for the one
 * command (seconds of CPU each); with one running, it calls that server's admin API through the local credential,
 * with the same client and the same JSON. So the first test runs a few commands in-process, and the command
 * catalogue (flags, answers, the API's errors) runs against a server process on the same folder.
 */
describe('CLI and the start command on the embedded database', () => {
  let dataDir: string;
  let env: Record<string, string>;
  let resource: { id: string; resource: string; default_scopes: string[]; registration_secret: string };

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'gatehouse-cli-'));
    // An initialised, empty cluster, as PGlite leaves a new folder; its own first start runs below, on a fresh one.
    await seedPglite(join(dataDir, 'pglite'));
    env = { DATA_DIR: dataDir, LOG_LEVEL: 'warn' };
  });
  after(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('administers without ADMIN_TOKEN, starting the application itself, printing JSON', async () => {
    const created = await runCli(['resources', 'create', '--name', 'Docs MCP', '--resource', 'https://mcp.example.com/mcp', '--scopes', 'docs:read,docs:write', '--default-scopes', 'docs:read'], env);
    assert.equal(created.code, 0, created.stderr);
    resource = JSON.parse(created.stdout) as typeof resource;
    assert.equal(resource.resource, 'https://mcp.example.com/mcp');
    assert.deepEqual(resource.default_scopes, ['docs:read']);
    assert.match(resource.registration_secret, /^gh_rs_/);
    assert.deepEqual((JSON.parse(created.stdout) as { sign_in: unknown }).sign_in, { providers: null, allow: {} }, 'nobody may sign in until a policy is set');

    const listed = await runCli(['resources', 'list'], env);
    assert.deepEqual((JSON.parse(listed.stdout) as Array<{ id: string }>).map((r) => r.id), [resource.id]);

    const invalid = await runCli(['resources', 'create', '--name', 'Bad', '--resource', 'http://example.com/mcp', '--scopes', 'a'], env);
    assert.equal(invalid.code, 1);
    assert.equal((JSON.parse(invalid.stderr.trim().split('\n').pop()!) as { error: string }).error, 'invalid_request');
  });

  it('refuses bad arguments with exit 2 and says why, and prints help', async () => {
    const notDuration = await runCli(['resources', 'rotate-secret', resource.id, '--overlap', '1w'], env);
    assert.equal(notDuration.code, 2);
    assert.match(notDuration.stderr, /--overlap.*must be a duration/);
    const rotateHelp = await runCli(['resources', 'rotate-secret', '--help'], env);
    assert.match(rotateHelp.stdout, /--overlap <duration>.*default 24h/s);
    const usage = await runCli(['resources', 'frobnicate'], env);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /unknown command/);
    const help = await runCli(['resources', 'create', '--help'], env);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: gatehouse resources create/);
    assert.match(help.stdout, /--access-token-ttl <seconds>/);
    const notWhole = await runCli(['resources', 'update', resource.id, '--access-token-ttl', '15m'], env);
    assert.equal(notWhole.code, 2);
    assert.match(notWhole.stderr, /--access-token-ttl.*whole number/);
    const missing = await runCli(['resources', 'create', '--name', 'No URL', '--scopes', 'a'], env);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--resource <url>' not specified/);
    const noScopes = await runCli(['clients', 'client-credentials', 'allow', 'some-client', resource.id], env);
    assert.equal(noScopes.code, 2);
    assert.match(noScopes.stderr, /--scopes <list>' not specified/);
  });

  it('starts the server, serves metadata, and administers it through the local credential while it holds the database', async () => {
    const port = await freePort();
    const adminToken = 'a'.repeat(40);
    const server = await startServerProcess({ ...env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info', ADMIN_TOKEN: adminToken });
    const credentialFile = join(dataDir, 'local-admin.json');
    let liveId = '';
    try {
      const metadata = (await (await fetch(`http://localhost:${port}/.well-known/oauth-authorization-server`)).json()) as { issuer: string; scopes_supported: string[] };
      assert.equal(metadata.issuer, `http://localhost:${port}`);
      assert.deepEqual(metadata.scopes_supported, ['docs:read', 'docs:write'], 'sees what the CLI wrote');
      assert.match(server.output(), /GITHUB_CLIENT_ID/, 'says plainly that GitHub sign-in needs configuring');

      assert.equal((await stat(credentialFile)).mode & 0o777, 0o600, 'the local admin credential is readable by its owner only');
      const credential = JSON.parse(await readFile(credentialFile, 'utf8')) as { url: string; token: string; pid: number };
      assert.equal(credential.url, `http://127.0.0.1:${port}`);
      assert.equal(Buffer.from(credential.token, 'base64url').length, 32);

      const listed = await runCli(['resources', 'list'], env);
      assert.equal(listed.code, 0, listed.stderr);
      assert.deepEqual((JSON.parse(listed.stdout) as Array<{ resource: string }>).map((r) => r.resource), ['https://mcp.example.com/mcp']);

      // The command catalogue, through the running server: each command's flags, its JSON, and the API's errors.
      const updated = await runCli(['resources', 'update', resource.id, '--access-token-ttl', '900'], env);
      assert.equal((JSON.parse(updated.stdout) as { access_token_ttl: number }).access_token_ttl, 900);

      const rotatedFrom = Date.now();
      const rotated = await runCli(['resources', 'rotate-secret', resource.id, '--overlap', '2h'], env);
      assert.equal(rotated.code, 0, rotated.stderr);
      const overlapping = JSON.parse(rotated.stdout) as { registration_secret: string; previous_secret_expires_at: string };
      assert.match(overlapping.registration_secret, /^gh_rs_/);
      const expires = Date.parse(overlapping.previous_secret_expires_at);
      assert.ok(expires >= rotatedFrom + 7200_000 && expires <= Date.now() + 7200_000, overlapping.previous_secret_expires_at);
      const revokedAtOnce = await runCli(['resources', 'rotate-secret', resource.id, '--overlap', '0'], env);
      assert.equal(revokedAtOnce.code, 0, revokedAtOnce.stderr);
      assert.equal((JSON.parse(revokedAtOnce.stdout) as { previous_secret_expires_at: null }).previous_secret_expires_at, null);
      const tooLong = await runCli(['resources', 'rotate-secret', resource.id, '--overlap', '31d'], env);
      assert.equal(tooLong.code, 1);
      assert.match(tooLong.stderr, /overlap_seconds must not be greater than 2592000/);

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

      const client = await runCli(['clients', 'create', '--redirect-uri', 'http://127.0.0.1/cb', '--name', 'Desktop', '--auth-method', 'none', '--grant-types', 'authorization_code,refresh_token'], env);
      assert.equal(client.code, 0, client.stderr);
      assert.equal((JSON.parse(client.stdout) as { kind: string }).kind, 'static');
      const clientId = (JSON.parse(client.stdout) as { client_id: string }).client_id;

      // Machine-to-machine: a client_credentials-only client needs no redirect URI; the grant is allowed per resource.
      const machine = await runCli(['clients', 'create', '--name', 'Nightly CI', '--auth-method', 'client_secret_post', '--grant-types', 'client_credentials'], env);
      assert.equal(machine.code, 0, machine.stderr);
      const machineId = (JSON.parse(machine.stdout) as { client_id: string }).client_id;
      const allowed = await runCli(['clients', 'client-credentials', 'allow', machineId, 'https://MCP.example.com/mcp', '--scopes', 'docs:read'], env);
      assert.equal(allowed.code, 0, allowed.stderr);
      assert.deepEqual(
        (({ client_id, resource_id, resource, scopes }) => ({ client_id, resource_id, resource, scopes }))(JSON.parse(allowed.stdout) as Record<string, unknown>),
        { client_id: machineId, resource_id: resource.id, resource: 'https://mcp.example.com/mcp', scopes: ['docs:read'] },
      );
      const listedGrants = JSON.parse((await runCli(['clients', 'client-credentials', 'list', machineId], env)).stdout) as Array<{ resource_id: string }>;
      assert.deepEqual(listedGrants.map((grant) => grant.resource_id), [resource.id]);
      const publicRefused = await runCli(['clients', 'client-credentials', 'allow', clientId, resource.id, '--scopes', 'docs:read'], env);
      assert.equal(publicRefused.code, 1);
      assert.match(publicRefused.stderr, /public client/);
      const removedGrant = await runCli(['clients', 'client-credentials', 'remove', machineId, resource.id], env);
      assert.deepEqual(JSON.parse(removedGrant.stdout), { removed: { client_id: machineId, resource_id: resource.id } });
      const removedAgain = await runCli(['clients', 'client-credentials', 'remove', machineId, 'https://mcp.example.com/mcp'], env);
      assert.equal(removedAgain.code, 1);
      assert.equal((JSON.parse(removedAgain.stderr.trim().split('\n').pop()!) as { error: string }).error, 'not_found');
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

      const created = await runCli(['resources', 'create', '--name', 'Live', '--resource', 'https://live.example.com/mcp', '--scopes', 'x'], env);
      assert.equal(created.code, 0, created.stderr);
      const createdLive = JSON.parse(created.stdout) as { id: string; registration_secret: string };
      assert.match(createdLive.registration_secret, /^gh_rs_/);
      liveId = createdLive.id;
      const live = (await (await fetch(`http://localhost:${port}/.well-known/oauth-authorization-server`)).json()) as { scopes_supported: string[] };
      assert.ok(live.scopes_supported.includes('x'), 'the running server serves what the CLI created through it');

      const status = await runCli(['migrate', 'status'], env);
      assert.equal(status.code, 0, status.stderr);
      const report = JSON.parse(status.stdout) as { applied: string[]; pending: string[] };
      assert.ok(report.applied.length > 0);
      assert.deepEqual(report.pending, []);
      const down = await runCli(['migrate', 'down'], env);
      assert.equal(down.code, 1);
      assert.match(down.stderr, /stop it first/);

      const typo = await runCli(['resources', 'creat'], env);
      assert.equal(typo.code, 2);
      assert.match(typo.stderr, /unknown command 'creat'/);
      assert.match(typo.stderr, /Did you mean create\?/);

      const noToken = await runCli(['--server', `http://localhost:${port}`, 'resources', 'list'], env);
      assert.equal(noToken.code, 2);
      assert.match(noToken.stderr, /GATEHOUSE_ADMIN_TOKEN/);
      const tokenFile = join(dataDir, 'admin-token.txt');
      await writeFile(tokenFile, adminToken + '\n', { mode: 0o600 });
      const remote = await runCli(['--server', `http://localhost:${port}`, '--token-file', tokenFile, 'resources', 'list'], {});
      assert.equal(remote.code, 0, remote.stderr);
      assert.equal((JSON.parse(remote.stdout) as unknown[]).length, 2);
      const wrongToken = await runCli(['--server', `http://localhost:${port}`, 'keys', 'rotate'], { GATEHOUSE_ADMIN_TOKEN: 'b'.repeat(40) });
      assert.equal(wrongToken.code, 1);
      assert.equal((JSON.parse(wrongToken.stderr.trim()) as { error: string }).error, 'invalid_token');

      // A credential that does not work (a stale file): the database is still locked, and the CLI says so in one line.
      await writeFile(credentialFile, JSON.stringify({ ...credential, token: 'stale' }));
      const blocked = await runCli(['resources', 'list'], env);
      assert.equal(blocked.code, 1);
      assert.match(blocked.stderr, /in use by process \d+/);
      assert.equal(blocked.stderr.trim().split('\n').length, 1, blocked.stderr);
      await writeFile(credentialFile, JSON.stringify(credential));
    } finally {
      server.child.kill('SIGTERM');
    }
    assert.equal(await exitOf(server.child), 0);
    await assert.rejects(stat(join(dataDir, 'pglite', 'gatehouse.lock')), 'the lock is released on shutdown');
    await assert.rejects(stat(credentialFile), 'the credential is removed on shutdown');
    // Stopped: the CLI opens the database itself again.
    const deleted = await runCli(['resources', 'delete', liveId], env);
    assert.equal(deleted.code, 0, deleted.stderr);
  });

  it('finds, disables and enables users, and sets identity claims', async () => {
    const created = await runCli(['resources', 'create', '--name', 'Users MCP', '--resource', 'https://users.example.com/mcp', '--scopes', 'a', '--default-scopes', 'a', '--identity-claims', 'idp,name'], env);
    assert.equal(created.code, 0, created.stderr);
    const resource = JSON.parse(created.stdout) as { identity_claims: string[]; registration_secret: string };
    assert.deepEqual(resource.identity_claims, ['name', 'idp'], 'in the catalogue’s order');

    const port = await freePort();
    const server = await startServerProcess({ ...env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info' });
    try {
      const refused = await runCli(['resources', 'create', '--name', 'Bad', '--resource', 'https://bad.example.com/mcp', '--scopes', 'a', '--identity-claims', 'password'], env);
      assert.equal(refused.code, 1);
      const client = JSON.parse((await runCli(['clients', 'create', '--redirect-uri', 'http://127.0.0.1/cb', '--grant-types', 'authorization_code,refresh_token'], env)).stdout) as { client_id: string };
      const minted = await fetch(`http://localhost:${port}/api/oauth/token/exchange`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${resource.registration_secret}` },
        body: JSON.stringify({ client_id: client.client_id, subject: 'cli-user-7' }),
      });
      assert.equal(minted.status, 200);

      const found = JSON.parse((await runCli(['users', 'find', 'cli-user-7'], env)).stdout) as Array<{ id: string; live_grants: number; disabled: boolean }>;
      assert.equal(found.length, 1, 'found by the product’s own id');
      assert.deepEqual([found[0]!.live_grants, found[0]!.disabled], [1, false]);
      const byProvider = JSON.parse((await runCli(['users', 'find', '--provider', 'external'], env)).stdout) as Array<{ id: string }>;
      assert.deepEqual(byProvider.map((user) => user.id), [found[0]!.id]);
      assert.deepEqual(JSON.parse((await runCli(['users', 'find', '--login', 'cli-user-7'], env)).stdout), [], 'a product user has no login');
      assert.deepEqual(JSON.parse((await runCli(['users', 'find', '--email', 'nobody@example.com'], env)).stdout), []);
      const noFilter = await runCli(['users', 'find'], env);
      assert.equal(noFilter.code, 2);
      const disabled = JSON.parse((await runCli(['users', 'disable', found[0]!.id], env)).stdout) as { disabled: boolean; live_grants: number };
      assert.deepEqual([disabled.disabled, disabled.live_grants], [true, 0]);
      const enabled = JSON.parse((await runCli(['users', 'enable', found[0]!.id], env)).stdout) as { disabled: boolean };
      assert.equal(enabled.disabled, false);
      const unknown = await runCli(['users', 'disable', 'github:nobody'], env);
      assert.equal(unknown.code, 1);
      assert.equal((JSON.parse(unknown.stderr.trim().split('\n').pop()!) as { error: string }).error, 'not_found');
    } finally {
      server.child.kill('SIGTERM');
    }
    assert.equal(await exitOf(server.child), 0);
  });
});

describe('migrate on a fresh embedded database', () => {
  let dataDir: string;
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'gatehouse-migrate-'));
  });
  after(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('status only reports; up applies; down reverts the newest', async () => {
    const env = { DATA_DIR: dataDir, LOG_LEVEL: 'warn' };
    const names = MIGRATIONS.map((Migration) => new Migration().name ?? Migration.name);
    const status = await runCli(['migrate', 'status'], env);
    assert.equal(status.code, 0, status.stderr);
    assert.deepEqual(JSON.parse(status.stdout), { applied: [], pending: names });
    assert.deepEqual(await publicTables(join(dataDir, 'pglite')), [], 'status created nothing');

    const up = await runCli(['migrate', 'up'], env);
    assert.equal(up.code, 0, up.stderr);
    assert.deepEqual(JSON.parse(up.stdout), { applied: names });
    assert.deepEqual(JSON.parse((await runCli(['migrate', 'status'], env)).stdout), { applied: names, pending: [] });
    const down = await runCli(['migrate', 'down'], env);
    assert.deepEqual(JSON.parse(down.stdout), { reverted: names[names.length - 1] });
    assert.deepEqual(JSON.parse((await runCli(['migrate', 'status'], env)).stdout), { applied: names.slice(0, -1), pending: names.slice(-1) });
  });
});

async function publicTables(pgliteDir: string): Promise<string[]> {
  const db = await PGlite.create({ dataDir: pgliteDir });
  try {
    const result = await db.query<{ table_name: string }>(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'`);
    return result.rows.map((row) => row.table_name);
  } finally {
    await db.close();
  }
}

describe('configuration errors', () => {
  it('stop the process with a message naming the variable', async () => {
    const result = await runCli(['resources', 'list'], { ISSUER: 'http://example.com', DATA_DIR: join(tmpdir(), 'never-created') });
    assert.equal(result.code, 78);
    assert.match(result.stderr, /ISSUER/);
  });

  it('come after usage errors, which open nothing', async () => {
    const dataDir = join(tmpdir(), `gatehouse-never-${process.pid}`);
    const typo = await runCli(['resources', 'creat', '--name', 'x'], { ISSUER: 'http://example.com', DATA_DIR: dataDir });
    assert.equal(typo.code, 2);
    assert.doesNotMatch(typo.stderr, /ISSUER|\n\s+at /);
    await assert.rejects(stat(dataDir), 'no data folder was created');
  });
});
