import { after, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAIN_JS } from '../support/processes.js';
import { adminRequest, spawnGatehouse, waitUntilReady } from '../support/instances.js';
import { freePort } from '../support/net.js';
import { seedPglite } from '../support/pglite-template.js';

/** What the operator sees of a start that fails: `node main.js` with exactly `env`, run to its exit. */
function runToExit(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN_JS], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`still running after 60 s:\n${stdout}\n${stderr}`));
    }, 60_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const STACK_FRAME = /\n\s+at /;

const dirs: string[] = [];
/** A new data folder holding an initialised, empty cluster (see pglite-template.ts). */
async function dataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-diag-'));
  dirs.push(dir);
  await seedPglite(join(dir, 'pglite'));
  return dir;
}
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe('configuration errors at start', () => {
  it('are all printed, one line each under a count, without a stack trace, and the process exits 78', async () => {
    const adminToken = 'short-admin-token';
    const result = await runToExit({ DATA_DIR: await dataDir(), PORT: 'abc', ISSUER: 'ftp://x', CIMD_ENABLED: 'yes', ADMIN_TOKEN: adminToken });
    assert.equal(result.code, 78, result.stderr);
    const lines = result.stderr.trimEnd().split('\n');
    assert.equal(lines[0], '4 configuration errors:', result.stderr);
    assert.ok(lines.includes('  PORT must be an integer from 1 to 65535 (got "abc")'), result.stderr);
    assert.ok(lines.some((line) => line.startsWith('  ISSUER must be an http(s) URL') && line.endsWith('(got "ftp://x")')), result.stderr);
    assert.ok(lines.includes('  CIMD_ENABLED must be true or false (got "yes")'), result.stderr);
    assert.ok(lines.includes('  ADMIN_TOKEN must be at least 32 characters (got 17 characters)'), result.stderr);
    assert.equal(lines.length, 5, result.stderr);
    assert.doesNotMatch(result.stderr, STACK_FRAME);
    assert.equal(result.stderr.includes(adminToken), false, 'a secret is never echoed');
    assert.equal(result.stdout, '');
  });
});

describe('a changed ENCRYPTION_KEY', () => {
  it('stops the start with a message naming ENCRYPTION_KEY and the way out, exit 1, no stack trace', async () => {
    const dir = await dataDir();
    const port = await freePort();
    const env = { DATA_DIR: dir, PORT: String(port), HOST: '127.0.0.1', AUDIT_LOG: 'off', LOG_LEVEL: 'warn' };
    const first = spawnGatehouse('key-a', { ...env, ENCRYPTION_KEY: randomBytes(32).toString('hex') });
    try {
      await waitUntilReady(first);
    } finally {
      assert.equal(await first.stop(), 0, first.output());
    }

    const result = await runToExit({ ...env, ENCRYPTION_KEY: randomBytes(32).toString('hex') });
    assert.equal(result.code, 1, result.stderr);
    assert.match(
      result.stderr,
      /^gatehouse failed to start: ENCRYPTION_KEY does not match the key the stored signing keys were sealed with: restore the previous key \(see docs\/operations\.md, backup\) or /m,
    );
    assert.doesNotMatch(result.stderr, STACK_FRAME);
    assert.doesNotMatch(result.stderr, /unable to authenticate data/);
  });
});

describe('audit events and application logs', () => {
  it('go to separate streams by default: events on stdout, logs on stderr', async () => {
    const adminToken = randomBytes(24).toString('hex');
    const instance = spawnGatehouse('streams', { DATA_DIR: await dataDir(), PORT: String(await freePort()), HOST: '127.0.0.1', ADMIN_TOKEN: adminToken, LOG_LEVEL: 'info' });
    let stdout = '';
    let stderr = '';
    instance.child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    instance.child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    try {
      await waitUntilReady(instance);
      const created = await adminRequest(instance, adminToken, 'POST', '/admin/resources', { name: 'Docs', resource: 'https://docs.example.com/mcp', scopes: ['docs:read'] });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const deadline = Date.now() + 20_000;
      while (!stdout.includes('"admin.resource_created"')) {
        assert.ok(Date.now() < deadline, `no audit event on stdout:\n${stdout}\n--- stderr ---\n${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      assert.equal(await instance.stop(), 0, instance.output());
    }
    const parse = (text: string) => text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
    const events = parse(stdout);
    const logs = parse(stderr);
    assert.ok(events.length > 0);
    for (const event of events) assert.ok(event.schema === 1 && !('level' in event), JSON.stringify(event));
    for (const line of logs) assert.ok(typeof line.level === 'string' && !('schema' in line), JSON.stringify(line));
    assert.ok(logs.some((line) => line.msg === 'gatehouse listening'), stderr);
  });
});
