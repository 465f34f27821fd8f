import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Browser, consentForm, devLoginForm } from '../support/browser.js';
import { freePort } from '../support/net.js';
import { npmFreeEnv } from '../support/processes.js';

// Compiled to dist/test/e2e/: the repository is three folders up. The clone is of its committed HEAD.
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** npm ci on a cold cache, plus the build its `prepare` runs; nothing here measures time. */
const TIMEOUT_MS = 15 * 60_000;
const START_TIMEOUT_MS = 120_000;

/** What a newcomer's shell has, with node's own folder first on PATH so that npm and `#!/usr/bin/env node` find it. */
function newcomerEnv(settings: Record<string, string> = {}): Record<string, string> {
  return npmFreeEnv({ PATH: [dirname(process.execPath), process.env.PATH ?? ''].join(delimiter), ...settings });
}

/** A command the newcomer types, run in its own process group so that stopping it stops npm's children too. */
class Command {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<number>;
  /** The exit code once it exited, else null. */
  code: number | null = null;

  constructor(readonly line: string[], cwd: string, env: Record<string, string>) {
    this.child = spawn(line[0]!, line.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.child.stdout!.on('data', (chunk: Buffer) => (this.stdout += chunk.toString()));
    this.child.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolve, reject) => {
      this.child.on('error', reject);
      this.child.on('exit', (code, signal) => resolve((this.code = code ?? (signal ? 128 : 1))));
    });
  }

  get output(): string {
    return `$ ${this.line.join(' ')}\n--- stdout\n${this.stdout}\n--- stderr\n${this.stderr}`;
  }

  /** Resolves once `ready` holds, fails as soon as the command exits or `timeoutMs` passes. */
  async until<T>(what: string, ready: () => Promise<T | undefined> | T | undefined, timeoutMs = START_TIMEOUT_MS): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await ready();
      if (value !== undefined) return value;
      if (this.code !== null) throw new Error(`${what}: the command exited with ${this.code}\n${this.output}`);
      if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s\n${this.output}`);
      await sleep(200);
    }
  }

  /** Whether any process of its group is still alive. */
  groupAlive(): boolean {
    try {
      process.kill(-this.child.pid!, 0);
      return true;
    } catch {
      return false;
    }
  }

  /** SIGTERM to the whole group, SIGKILL after a grace period; resolves once no process of the group is left. */
  async stop(graceMs = 15_000): Promise<void> {
    if (this.child.pid === undefined) return;
    this.signal('SIGTERM');
    const deadline = Date.now() + graceMs;
    while (this.groupAlive()) {
      if (Date.now() > deadline) this.signal('SIGKILL');
      await sleep(100);
    }
  }

  signal(signal: NodeJS.Signals): void {
    try {
      process.kill(-this.child.pid!, signal);
    } catch {
      // The group is gone already.
    }
  }
}

/** Runs one command to its end. */
async function run(line: string[], cwd: string, env = newcomerEnv()): Promise<{ code: number; stdout: string; stderr: string; output: string }> {
  const command = started(new Command(line, cwd, env));
  const code = await command.exited;
  return { code, stdout: command.stdout, stderr: command.stderr, output: command.output };
}

const commands: Command[] = [];
function started(command: Command): Command {
  commands.push(command);
  return command;
}
// Should the test process itself end abruptly, it still takes every process group it started with it.
process.once('exit', () => commands.forEach((command) => command.signal('SIGKILL')));

/** True once `url` answers 200; undefined while nothing listens yet. */
async function answers(url: string): Promise<true | undefined> {
  try {
    const response = await fetch(url);
    await response.arrayBuffer();
    return response.ok || undefined;
  } catch {
    return undefined;
  }
}

/** A JSON audit event as the log sink writes it on the server's standard output. */
interface AuditLine {
  type: string;
  user_agent: string | null;
  resource: string | null;
  data: Record<string, unknown>;
}

function auditLines(stdout: string): AuditLine[] {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('{"schema":'))
    .map((line) => JSON.parse(line) as AuditLine);
}

describe('a newcomer: fresh clone, the two commands, the getting-started walk-through', { timeout: TIMEOUT_MS }, () => {
  let work: string;
  let clone: string;
  let gatehouse: Command;
  let issuer: string;
  let mcpPort: number;
  let mcpUrl: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'gatehouse-newcomer-'));
    clone = join(work, 'gatehouse');
    const cloned = await run(['git', 'clone', '--no-hardlinks', '-q', ROOT, clone], work);
    assert.equal(cloned.code, 0, cloned.output);

    // The README's two commands: `npm ci` (whose prepare script builds), then `npm start`, here with the
    // development sign-in of docs/getting-started.md and free ports instead of the default 3000 and 3001.
    const installed = await run(['npm', 'ci', '--no-audit', '--no-fund', '--prefer-offline'], clone);
    assert.equal(installed.code, 0, installed.output);

    const port = await freePort();
    issuer = `http://localhost:${port}`;
    gatehouse = started(new Command(['npm', 'start'], clone, newcomerEnv({ DEV_LOGIN: 'true', PORT: String(port), ISSUER: issuer })));
    await gatehouse.until('Gatehouse answers its metadata', () => answers(`${issuer}/.well-known/oauth-authorization-server`));
    mcpPort = await freePort();
    mcpUrl = `http://localhost:${mcpPort}/mcp`;
  });

  after(async () => {
    // Newest first: clients before the servers they talk to.
    for (const command of [...commands].reverse()) await command.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('starts Gatehouse from the clone, with development sign-in announced, on the embedded database', async () => {
    const response = await fetch(`${issuer}/.well-known/oauth-authorization-server`);
    assert.equal(((await response.json()) as { issuer: string }).issuer, issuer);
    const output = gatehouse.stdout + gatehouse.stderr;
    assert.match(output, /DEVELOPMENT SIGN-IN IS ON/);
    assert.ok(output.includes(`embedded PGlite in ${join(clone, 'data', 'pglite')}`), output);
  });

  it('registers the example MCP server with `npx gatehouse resources create` through the running server', async () => {
    const created = await run(
      ['npx', 'gatehouse', 'resources', 'create', '--name', 'Projects', '--resource', mcpUrl, '--scopes', 'projects:read,projects:write', '--default-scopes', 'projects:read', '--allow-everyone'],
      clone,
    );
    assert.equal(created.code, 0, created.output);
    const resource = JSON.parse(created.stdout) as { id: string; name: string; resource: string; scopes: string[]; default_scopes: string[]; sign_in: unknown; registration_secret: string };
    assert.deepEqual(
      { name: resource.name, resource: resource.resource, scopes: resource.scopes, default_scopes: resource.default_scopes, sign_in: resource.sign_in },
      { name: 'Projects', resource: mcpUrl, scopes: ['projects:read', 'projects:write'], default_scopes: ['projects:read'], sign_in: { allow: 'everyone', providers: null } },
    );
    assert.match(resource.registration_secret, /^gh_rs_/);

    // The running server did it: its own audit stream records the CLI's call, and its admin API, reached with the
    // local credential it wrote into ./data, lists the resource.
    const event = await gatehouse.until('the server logs admin.resource_created', () => auditLines(gatehouse.stdout).find((line) => line.type === 'admin.resource_created'), 10_000);
    assert.deepEqual({ user_agent: event.user_agent, resource: event.resource, data: event.data }, { user_agent: 'gatehouse-cli', resource: mcpUrl, data: { resource_id: resource.id } });
    const credential = JSON.parse(await readFile(join(clone, 'data', 'local-admin.json'), 'utf8')) as { url: string; token: string };
    const listed = await fetch(`${credential.url}/admin/resources`, { headers: { authorization: `Bearer ${credential.token}` } });
    assert.equal(listed.status, 200);
    assert.deepEqual(((await listed.json()) as Array<{ id: string }>).map((item) => item.id), [resource.id]);
  });

  it('signs in with a typed name through the example client, which then calls list_projects on the example MCP server', async () => {
    const mcp = started(new Command(['npm', 'run', 'example:mcp'], clone, newcomerEnv({ PORT: String(mcpPort), GATEHOUSE_ISSUER: issuer })));
    await mcp.until('the example MCP server starts', () => (mcp.stdout.includes(`MCP server on ${mcpUrl}, protected by ${issuer}`) ? true : undefined));
    const unauthorized = await fetch(mcpUrl, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: '{}' });
    assert.equal(unauthorized.status, 401);
    assert.match(unauthorized.headers.get('www-authenticate') ?? '', /resource_metadata=/);

    const callbackPort = await freePort();
    const client = started(new Command(['npm', 'run', '-s', 'example:client'], clone, newcomerEnv({ MCP_URL: mcpUrl, CALLBACK_PORT: String(callbackPort) })));
    const authorizationUrl = await client.until('the example client prints an authorization URL', () => /^ {2}(http:\/\/localhost:\d+\/authorize\?\S+)$/m.exec(client.stdout)?.[1]);
    assert.ok(authorizationUrl.startsWith(`${issuer}/authorize?`), authorizationUrl);

    const redirectUri = `http://127.0.0.1:${callbackPort}/callback`;
    const browser = new Browser('newcomer');
    const callback = await browser.authorize(authorizationUrl, redirectUri);
    const [signIn, consent] = browser.pages;
    assert.ok(signIn && devLoginForm(signIn), 'the sign-in page offers development sign-in');
    assert.ok(consent && consentForm(consent), 'then the consent page');
    assert.match(consent.html, /Signed in as <strong>newcomer<\/strong> \(Development sign-in\)/);
    assert.equal(`${callback.origin}${callback.pathname}`, redirectUri);
    assert.ok(callback.searchParams.get('code'), callback.href);

    // The browser lands on the client's loopback callback.
    const landed = await fetch(callback);
    assert.equal(landed.status, 200);
    assert.equal(await landed.text(), 'Signed in. You can close this tab.\n');

    assert.equal(await client.exited, 0, client.output);
    const subject = /^Connected to (\S+) as subject (\S+)$/m.exec(client.stdout);
    assert.equal(subject?.[1], mcpUrl, client.output);
    assert.match(client.stdout, /^Tools: list_projects, create_project$/m);
    assert.match(client.stdout, /^list_projects: \[\]$/m);

    // The subject is the Gatehouse user that the name `newcomer` signed in as.
    const credential = JSON.parse(await readFile(join(clone, 'data', 'local-admin.json'), 'utf8')) as { url: string; token: string };
    const users = await fetch(`${credential.url}/admin/users?provider=dev&login=newcomer`, { headers: { authorization: `Bearer ${credential.token}` } });
    assert.deepEqual(((await users.json()) as Array<{ id: string }>).map((user) => user.id), [subject?.[2]]);
    const events = auditLines(gatehouse.stdout).map((line) => line.type);
    for (const type of ['client.registered', 'login.succeeded', 'consent.granted', 'authorization_code.issued', 'token.issued']) assert.ok(events.includes(type), `${type} in ${events.join(', ')}`);
  });

  it('stops on Ctrl-C (SIGINT to the foreground process group), leaving no process behind', async () => {
    const running = commands.filter((command) => command.groupAlive());
    assert.deepEqual(running.map((command) => command.line.join(' ')), ['npm start', 'npm run example:mcp'], 'only the two servers still run');
    for (const command of running) command.signal('SIGINT');
    const deadline = Date.now() + 30_000;
    while (running.some((command) => command.groupAlive()) && Date.now() < deadline) await sleep(100);
    assert.deepEqual(running.filter((command) => command.groupAlive()).map((command) => command.line.join(' ')), [], 'every process group ended');
    assert.match(gatehouse.stdout + gatehouse.stderr, /"msg":"stopped"/, gatehouse.output);
  });
});
