// Runs the MCP conformance suite's authorization server scenarios against Gatehouse (see docs/testing.md, "Running
// the MCP conformance suite"). Starts Gatehouse from dist/ on a throwaway data folder with development sign-in, the
// example MCP server (examples/express-mcp-server, behind gatehouse-guard) as the resource, registers a public
// client for the suite's callback, runs `conformance authorization`, and signs in and consents in the suite's place
// when it prints the authorization URL (it waits for a person otherwise). Adds no dependency: the suite is installed
// apart (it needs Node 22 or later; this script runs on the Node that runs Gatehouse).
//
//   node dist/scripts/mcp-conformance.js --conformance /tmp/conf/node_modules/@modelcontextprotocol/conformance/dist/index.js \
//     [--node /path/to/node22] [--scenario NAME] [--output DIR]
//
// Environment passed on to Gatehouse: DPOP_NONCE (to run the scenarios with server nonces on). Exit code: the suite's.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Browser } from '../test/support/browser.js';

const { values: args } = parseArgs({
  options: {
    conformance: { type: 'string' },
    node: { type: 'string', default: process.execPath },
    scenario: { type: 'string' },
    output: { type: 'string' },
  },
});
if (!args.conformance) {
  console.error('usage: node dist/scripts/mcp-conformance.js --conformance <path to @modelcontextprotocol/conformance/dist/index.js> [--node <node 22+>] [--scenario NAME] [--output DIR]');
  process.exit(64);
}

const root = resolve(import.meta.dirname, '..', '..');
const children: ChildProcess[] = [];
const dataDir = await mkdtemp(join(tmpdir(), 'gatehouse-conformance-'));

async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

function start(what: string, command: string, commandArgs: string[], env: Record<string, string>): ChildProcess {
  const child = spawn(command, commandArgs, { cwd: root, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stderr!.on('data', (chunk: Buffer) => process.stderr.write(`[${what}] ${chunk}`));
  children.push(child);
  return child;
}

async function waitFor(url: string, seconds: number): Promise<void> {
  const until = Date.now() + seconds * 1000;
  while (Date.now() < until) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((wait) => setTimeout(wait, 250));
  }
  throw new Error(`${url} did not answer within ${seconds} s`);
}

async function cleanUp(): Promise<void> {
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  await Promise.all(children.map((child) => (child.exitCode === null ? new Promise((done) => child.once('exit', done)) : undefined)));
  await rm(dataDir, { recursive: true, force: true });
}

let exitCode = 1;
try {
  const [port, mcpPort, callbackPort] = [await freePort(), await freePort(), await freePort()];
  const issuer = `http://127.0.0.1:${port}`;
  const resource = `http://127.0.0.1:${mcpPort}/mcp`;
  const adminToken = randomBytes(24).toString('hex');
  const passed: Record<string, string> = process.env.DPOP_NONCE ? { DPOP_NONCE: process.env.DPOP_NONCE } : {};
  start('gatehouse', process.execPath, ['dist/src/main.js'], { DATA_DIR: dataDir, ADMIN_TOKEN: adminToken, ISSUER: issuer, PORT: String(port), HOST: '127.0.0.1', DEV_LOGIN: 'true', LOG_LEVEL: 'warn', ...passed });
  await waitFor(`${issuer}/.well-known/oauth-authorization-server`, 180);

  const admin = async (path: string, body: unknown) => {
    const response = await fetch(`${issuer}${path}`, { method: 'POST', headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (!response.ok) throw new Error(`POST ${path}: ${response.status} ${await response.text()}`);
    return (await response.json()) as Record<string, unknown>;
  };
  const registered = await admin('/admin/resources', {
    name: 'Projects (conformance)',
    resource,
    scopes: ['projects:read', 'projects:write'],
    default_scopes: ['projects:read'],
    sign_in: { providers: null, allow: 'everyone' },
  });
  start('mcp', process.execPath, ['dist/examples/express-mcp-server/main.js'], { PORT: String(mcpPort), GATEHOUSE_ISSUER: issuer, MCP_RESOURCE: resource, GATEHOUSE_REGISTRATION_SECRET: String(registered.registration_secret) });
  // The resource's metadata (RFC 9728) names Gatehouse: the suite's token is for a live, guarded MCP server.
  await waitFor(`http://127.0.0.1:${mcpPort}/.well-known/oauth-protected-resource/mcp`, 60);

  const redirectUri = `http://127.0.0.1:${callbackPort}/callback`;
  const registration = await fetch(`${issuer}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: 'MCP conformance suite', redirect_uris: [redirectUri], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' }),
  });
  if (registration.status !== 201) throw new Error(`client registration: ${registration.status} ${await registration.text()}`);
  const clientId = String(((await registration.json()) as { client_id: string }).client_id);

  const suiteArgs = [args.conformance, 'authorization', '--url', issuer, '--client-id', clientId, '--resource', resource, '--port', String(callbackPort)];
  if (args.scenario) suiteArgs.push('--scenario', args.scenario);
  if (args.output) suiteArgs.push('--output-dir', resolve(args.output));
  console.log(`conformance ${suiteArgs.slice(1).join(' ')}`);
  const suite = start('conformance', args.node!, suiteArgs, { HOME: process.env.HOME ?? dataDir });
  let output = '';
  let authorizing: Promise<void> | undefined;
  suite.stdout!.on('data', (chunk: Buffer) => {
    process.stdout.write(chunk);
    output += chunk.toString('utf8');
    const url = new RegExp(`^${issuer.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/authorize\\?\\S+$`, 'm').exec(output)?.[0];
    if (url && !authorizing) {
      // What a person would do in the browser: development sign-in, Approve, then the redirect to the suite.
      authorizing = new Browser('conformance')
        .authorize(url, redirectUri)
        .then(async (callback) => void (await fetch(callback)))
        .catch((error: unknown) => console.error(`signing in for the suite failed: ${error instanceof Error ? error.message : String(error)}`));
    }
  });
  exitCode = await new Promise<number>((done) => suite.once('exit', (code) => done(code ?? 1)));
  await authorizing;
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
} finally {
  await cleanUp();
}
process.exit(exitCode);
