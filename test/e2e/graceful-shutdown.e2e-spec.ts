import { after, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { Agent, request } from 'node:http';
import { randomBytes } from 'node:crypto';
import { freePort, connectionOutcome } from '../support/net.js';
import { adminRequest, spawnGatehouse, waitUntilReady, type GatehouseProcess } from '../support/instances.js';
import { mintTokens } from '../support/flows.js';
import { seedPglite } from '../support/pglite-template.js';

/**
 * SIGTERM on the real process (main.js, embedded database): requests in flight finish, new connections are refused,
 * the audit stream ends, the database closes, exit 0 — or exit 1 once SHUTDOWN_GRACE_SECONDS is over.
 */

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * A POST whose headers and first `sent` bytes of body have reached the server: `Expect: 100-continue` makes the
 * server answer `100 Continue` once it has taken the request in, so the test knows it is in flight.
 */
async function halfSentPost(instance: GatehouseProcess, path: string, contentType: string, body: string, sent: number): Promise<{ socket: Socket; finish: () => void; response: Promise<RawResponse> }> {
  const socket = connect(instance.port, '127.0.0.1');
  await once(socket, 'connect');
  let raw = '';
  const closed = new Promise<string>((resolve) => socket.on('close', () => resolve(raw)));
  socket.on('data', (chunk: Buffer) => (raw += chunk.toString()));
  socket.on('error', () => {});
  socket.write(
    `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${instance.port}\r\nContent-Type: ${contentType}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nExpect: 100-continue\r\n\r\n`,
  );
  while (!raw.includes('\r\n\r\n')) await once(socket, 'data');
  assert.match(raw, /^HTTP\/1\.1 100 Continue\r\n\r\n/);
  raw = '';
  socket.write(body.slice(0, sent));
  return {
    socket,
    finish: () => socket.write(body.slice(sent)),
    response: closed.then(parseResponse),
  };
}

function parseResponse(raw: string): RawResponse {
  const [head = '', ...rest] = raw.split('\r\n\r\n');
  const [statusLine = '', ...headerLines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') };
}

async function logged(instance: GatehouseProcess, msg: string): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const line = instance.logs().find((entry) => entry.msg === msg);
    if (line) return line;
    if (Date.now() > deadline) assert.fail(`${instance.name} never logged ${JSON.stringify(msg)}:\n${instance.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('graceful shutdown of the server process', { concurrency: true, timeout: 90_000 }, () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  async function start(name: string, env: Record<string, string> = {}): Promise<{ instance: GatehouseProcess; dataDir: string; adminToken: string }> {
    const dataDir = await mkdtemp(join(tmpdir(), 'gatehouse-shutdown-'));
    await seedPglite(join(dataDir, 'pglite'));
    const adminToken = randomBytes(24).toString('hex');
    const instance = spawnGatehouse(name, { DATA_DIR: dataDir, PORT: String(await freePort()), HOST: '127.0.0.1', ADMIN_TOKEN: adminToken, LOG_LEVEL: 'info', AUDIT_LOG: 'off', ...env });
    cleanups.push(async () => {
      instance.kill();
      await instance.exited;
      await rm(dataDir, { recursive: true, force: true });
    });
    await waitUntilReady(instance);
    return { instance, dataDir, adminToken };
  }

  it('on SIGTERM finishes the request in flight, refuses new connections, closes idle ones, ends the audit stream, and exits 0', async () => {
    const { instance, dataDir, adminToken } = await start('drain');
    const resource = await adminRequest(instance, adminToken, 'POST', '/admin/resources', { name: 'Shutdown MCP', resource: 'http://127.0.0.1:1/shutdown-mcp', scopes: ['tools:read'], default_scopes: ['tools:read'] });
    assert.equal(resource.status, 201, JSON.stringify(resource.body));
    const client = await adminRequest(instance, adminToken, 'POST', '/admin/clients', {
      client_name: 'Shutdown client',
      redirect_uris: ['http://127.0.0.1:47014/callback'],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
    });
    assert.equal(client.status, 201, JSON.stringify(client.body));
    const minted = await mintTokens(instance, resource.body, { client_id: client.body.client_id, subject: 'user-1' });

    // A live audit stream, which would hold the server open forever if nothing ended it.
    const stream = await fetch(`${instance.url}/admin/audit/stream`, { headers: { authorization: `Bearer ${adminToken}` } });
    assert.equal(stream.status, 200);
    const streamText = stream.text();

    // An idle keep-alive connection.
    const agent = new Agent({ keepAlive: true });
    const idle = await new Promise<Socket>((resolve, reject) => {
      const warm = request({ host: '127.0.0.1', port: instance.port, path: '/healthz', agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(warm.socket as Socket));
      });
      warm.on('error', reject);
      warm.end();
    });
    const idleClosed = once(idle, 'close');

    // A refresh whose body is only half sent when the signal comes.
    const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: minted.refreshToken, client_id: client.body.client_id }).toString();
    const inFlight = await halfSentPost(instance, '/token', 'application/x-www-form-urlencoded', form, 20);

    instance.child.kill('SIGTERM');
    const stopping = await logged(instance, 'shutting down');
    assert.equal(stopping.in_flight, 2, 'the refresh and the audit stream');
    assert.equal(await connectionOutcome(instance.port), 'ECONNREFUSED', 'no new connections after the signal');
    await idleClosed;
    assert.equal(instance.running, true, 'still running while the refresh is in flight');

    inFlight.finish();
    const response = await inFlight.response;
    assert.equal(response.status, 200, response.body);
    assert.equal(response.headers.connection, 'close');
    const tokens = JSON.parse(response.body) as { access_token?: string; refresh_token?: string };
    assert.ok(tokens.access_token && tokens.refresh_token, response.body);

    assert.match(await streamText, /^retry: 2000\n\n/, 'the stream ended cleanly');
    assert.equal(await instance.exited, 0, instance.output());
    assert.ok(instance.logs().some((line) => line.msg === 'stopped'), instance.output());
    await assert.rejects(stat(join(dataDir, 'pglite', 'gatehouse.lock')), 'the database was closed and its folder unlocked');
    agent.destroy();
  });

  it('exits 1 when a request is still in flight after SHUTDOWN_GRACE_SECONDS', async () => {
    const { instance } = await start('stuck', { SHUTDOWN_GRACE_SECONDS: '1' });
    const stuck = await halfSentPost(instance, '/token', 'application/x-www-form-urlencoded', 'grant_type=refresh_token&refresh_token=never-finished', 10);
    const signalled = Date.now();
    instance.child.kill('SIGTERM');
    assert.equal(await instance.exited, 1, instance.output());
    const elapsed = Date.now() - signalled;
    assert.ok(elapsed >= 1000 && elapsed < 5000, `exited after ${elapsed} ms`);
    const line = instance.logs().find((entry) => entry.level === 'error' && String(entry.msg).includes('SHUTDOWN_GRACE_SECONDS'));
    assert.ok(line, instance.output());
    assert.equal(line.in_flight, 1);
    stuck.socket.destroy();
  });
});
