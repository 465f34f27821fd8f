import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { CommanderError, type Command } from 'commander';
import { buildProgram, type CliJob } from './program.js';
import type { AdminClient } from './admin-client.js';
import { UsageError } from './parsers.js';

interface Parsed {
  job?: CliJob;
  out: string;
  err: string;
}

async function parse(argv: string[]): Promise<Parsed> {
  const parsed: Parsed = { out: '', err: '' };
  const program = buildProgram((job) => (parsed.job = job), { out: (text) => (parsed.out += text), err: (text) => (parsed.err += text) });
  await program.parseAsync(argv, { from: 'user' });
  return parsed;
}

/** Runs an admin job against a recorder standing in for the admin API. */
async function calls(argv: string[], answer: unknown = {}): Promise<Array<[string, string, unknown?]>> {
  const { job } = await parse(argv);
  assert.equal(job?.kind, 'admin');
  const seen: Array<[string, string, unknown?]> = [];
  const api: AdminClient = {
    get: async (path, query) => (seen.push(query ? ['GET', path, Object.fromEntries(Object.entries(query).filter(([, v]) => v !== undefined))] : ['GET', path]), answer),
    post: async (path, body) => (seen.push(body === undefined ? ['POST', path] : ['POST', path, body]), answer),
    patch: async (path, body) => (seen.push(['PATCH', path, body]), answer),
    put: async (path, body) => (seen.push(['PUT', path, body]), answer),
    delete: async (path) => (seen.push(['DELETE', path]), answer),
  };
  if (job?.kind === 'admin') await job.run(api);
  return seen;
}

function commandPaths(command: Command, prefix: string[] = []): string[][] {
  return command.commands.filter((sub) => sub.name() !== 'help').flatMap((sub) => [[...prefix, sub.name()], ...commandPaths(sub, [...prefix, sub.name()])]);
}

describe('the CLI command tree', () => {
  it('has a description and --help on every command', async () => {
    const program = buildProgram(() => undefined, { out: () => undefined, err: () => undefined });
    const paths = commandPaths(program);
    assert.ok(paths.length > 30, `only ${paths.length} commands`);
    for (const path of paths) {
      let sub: Command = program;
      for (const name of path) sub = sub.commands.find((candidate) => candidate.name() === name)!;
      assert.ok(sub.description(), `${path.join(' ')} has no description`);
      await assert.rejects(parse([...path, '--help']), (error: CommanderError) => error.code === 'commander.helpDisplayed', path.join(' '));
    }
  });

  it('refuses misuse while parsing, with a suggestion', async () => {
    await assert.rejects(parse(['resources', 'creat']), (error: CommanderError) => error.code === 'commander.unknownCommand');
    await assert.rejects(parse(['resources', 'list', '--nmae', 'x']), (error: CommanderError) => error.code === 'commander.unknownOption');
    await assert.rejects(parse(['resources', 'create', '--name', 'x', '--resource', 'not a url', '--scopes', 'a']), (error: CommanderError) => error.code === 'commander.invalidArgument');
    await assert.rejects(parse(['initial-access-tokens', 'create', '--expires-in', '-5']), (error: CommanderError) => error.code === 'commander.invalidArgument');
    await assert.rejects(parse(['clients', 'create', '--redirect-uri', 'http://127.0.0.1/cb', '--auth-method', 'password']), (error: CommanderError) => error.code === 'commander.invalidArgument');
    await assert.rejects(parse(['resources', 'get']), (error: CommanderError) => error.code === 'commander.missingArgument');
    await assert.rejects(parse(['resources', 'update', 'id']), UsageError);
    await assert.rejects(parse(['resources', 'update', 'id', '--allow-everyone', '--allow-github-orgs', 'acme']), UsageError);
    await assert.rejects(parse(['--server', 'ftp://x', 'resources', 'list']), (error: CommanderError) => error.code === 'commander.invalidArgument');
    await assert.rejects(parse(['resources', 'update', 'id', '--scope-description', 'no equals sign']), (error: CommanderError) => error.code === 'commander.invalidArgument');
    await assert.rejects(parse(['resources', 'update', 'id', '--scope-description', 'a=x', '--scope-description', 'a=y']), (error: CommanderError) => error.code === 'commander.invalidArgument');
    await assert.rejects(parse(['resources', 'update', 'id', '--scope-description', 'a=x', '--clear-scope-descriptions']), (error: CommanderError) => error.code === 'commander.conflictingOption');
    for (const overlap of ['1w', '-5', '24 h', '1.5h', 'h', '']) {
      await assert.rejects(parse(['resources', 'rotate-secret', 'id', '--overlap', overlap]), (error: CommanderError) => error.code === 'commander.invalidArgument', overlap);
    }
  });

  it("rotates a secret with the server's default overlap, or the --overlap given (a duration, in seconds)", async () => {
    assert.deepEqual(await calls(['resources', 'rotate-secret', 'r1']), [['POST', '/admin/resources/r1/secret']]);
    const cases: Array<[string, number]> = [['0', 0], ['90', 90], ['90s', 90], ['15m', 900], ['24h', 86_400], ['7d', 604_800]];
    for (const [overlap, seconds] of cases) {
      assert.deepEqual(await calls(['resources', 'rotate-secret', 'r1', '--overlap', overlap]), [['POST', '/admin/resources/r1/secret', { overlap_seconds: seconds }]], overlap);
    }
  });

  it('folds repeated --scope-description flags into one map; --clear-scope-descriptions sends an empty one', async () => {
    assert.deepEqual(await calls(['resources', 'update', 'r1', '--scope-description', 'docs:read=Read your documents', '--scope-description', 'docs:write=Change them = all']), [
      ['PATCH', '/admin/resources/r1', { scope_descriptions: { 'docs:read': 'Read your documents', 'docs:write': 'Change them = all' } }],
    ]);
    assert.deepEqual(await calls(['resources', 'update', 'r1', '--clear-scope-descriptions']), [['PATCH', '/admin/resources/r1', { scope_descriptions: {} }]]);
  });

  it('maps each command to its admin API route', async () => {
    assert.deepEqual(await calls(['resources', 'create', '--name', 'Docs', '--resource', 'https://mcp.example.com/mcp', '--scopes', 'a,b', '--access-token-ttl', '900', '--logo-uri', 'https://x.example/logo.png', '--allow-github-orgs', 'acme']), [
      [
        'POST',
        '/admin/resources',
        {
          name: 'Docs',
          resource: 'https://mcp.example.com/mcp',
          scopes: ['a', 'b'],
          access_token_ttl: 900,
          branding: { logo_uri: 'https://x.example/logo.png' },
          sign_in: { providers: null, allow: { github_organizations: ['acme'] } },
        },
      ],
    ]);
    assert.deepEqual(await calls(['resources', 'update', 'r/1', '--default']), [['PATCH', '/admin/resources/r%2F1', { is_default: true }]]);
    assert.deepEqual(await calls(['clients', 'create', '--redirect-uri', 'http://127.0.0.1/a', '--redirect-uri', 'http://127.0.0.1/b', '--auth-method', 'none']), [
      ['POST', '/admin/clients', { redirect_uris: ['http://127.0.0.1/a', 'http://127.0.0.1/b'], token_endpoint_auth_method: 'none' }],
    ]);
    assert.deepEqual(await calls(['initial-access-tokens', 'create', '--max-registrations', '3']), [['POST', '/admin/initial-access-tokens', { max_registrations: 3 }]]);
    assert.deepEqual(await calls(['users', 'find', '--login', 'Octocat', '--email', 'o@example.com']), [['GET', '/admin/users', { login: 'Octocat', email: 'o@example.com' }]]);
    assert.deepEqual(await calls(['users', 'find', 'oct']), [['GET', '/admin/users', { q: 'oct' }]]);
    assert.deepEqual(await calls(['users', 'disable', 'oidc:corp:jane'], [{ id: 'u1' }]), [
      ['GET', '/admin/users', { provider: 'oidc:corp', login: 'jane' }],
      ['POST', '/admin/users/u1/disable'],
    ]);
    assert.deepEqual(await calls(['operators', 'list']), [['GET', '/admin/operators']]);
    assert.deepEqual(await calls(['operators', 'grant', 'dev:alice', '--role', 'viewer'], [{ id: 'u1' }]), [
      ['GET', '/admin/users', { provider: 'dev', login: 'alice' }],
      ['PUT', '/admin/operators/u1', { role: 'viewer' }],
    ]);
    assert.deepEqual(await calls(['operators', 'revoke', 'jane@example.com'], [{ id: 'u2' }]), [
      ['GET', '/admin/users', { email: 'jane@example.com' }],
      ['DELETE', '/admin/operators/u2'],
    ]);
    await assert.rejects(parse(['operators', 'grant', 'dev:alice']), (error: CommanderError) => error.code === 'commander.missingMandatoryOptionValue');
    await assert.rejects(parse(['operators', 'grant', 'dev:alice', '--role', 'owner']), (error: CommanderError) => error.code === 'commander.invalidArgument');
    const rid = '5f0c3c1e-8a47-4c1a-9d3e-2b6f4a1c7e90';
    assert.deepEqual(await calls(['clients', 'client-credentials', 'allow', 'c/1', rid, '--scopes', 'docs:read,docs:write']), [
      ['PUT', `/admin/clients/c%2F1/client-credentials/${rid}`, { scopes: ['docs:read', 'docs:write'] }],
    ]);
    // A resource named by URL is looked up among the resource servers, compared in its canonical form.
    assert.deepEqual(await calls(['clients', 'client-credentials', 'remove', 'c1', 'https://MCP.example.com/mcp'], [{ id: rid, resource: 'https://mcp.example.com/mcp' }]), [
      ['GET', '/admin/resources'],
      ['DELETE', `/admin/clients/c1/client-credentials/${rid}`],
    ]);
    assert.deepEqual(await calls(['clients', 'client-credentials', 'list', 'c1']), [['GET', '/admin/clients/c1/client-credentials']]);
    await assert.rejects(calls(['clients', 'client-credentials', 'allow', 'c1', 'not a url', '--scopes', 'a']), UsageError);
    await assert.rejects(parse(['clients', 'client-credentials', 'allow', 'c1', rid]), (error: CommanderError) => error.code === 'commander.missingMandatoryOptionValue');
    // A client_credentials-only client has no redirect URI; any other needs one.
    assert.deepEqual(await calls(['clients', 'create', '--name', 'CI', '--auth-method', 'client_secret_basic', '--grant-types', 'client_credentials']), [
      ['POST', '/admin/clients', { client_name: 'CI', token_endpoint_auth_method: 'client_secret_basic', grant_types: ['client_credentials'] }],
    ]);
    await assert.rejects(parse(['clients', 'create', '--name', 'CI', '--grant-types', 'client_credentials,refresh_token']), UsageError);
    assert.deepEqual(await calls(['keys', 'rotate']), [['POST', '/admin/keys/rotate']]);
    assert.deepEqual(await calls(['keys', 'list']), [['GET', '/.well-known/jwks.json']]);
    assert.deepEqual((await parse(['migrate', 'status'])).job, { kind: 'migrate', action: 'status' });
    assert.deepEqual((await parse(['serve'])).job, { kind: 'serve' });
  });
});
