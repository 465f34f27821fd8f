import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../support/net.js';
import { exitOf, runCommand, startUntilListening, type CliResult } from '../support/processes.js';

// Compiled to dist/test/e2e/: the repository is three folders up. `npm pack` ships its dist/ as built by pretest.
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const INSTALL_TIMEOUT_MS = 10 * 60_000;

/** Node's own folder first on PATH: the installed bin's `#!/usr/bin/env node` must find this node. */
const PATH = [dirname(process.execPath), process.env.PATH ?? ''].join(delimiter);

function run(command: string, args: string[], options: { cwd: string; env?: Record<string, string> }): Promise<CliResult> {
  return runCommand(command, args, { cwd: options.cwd, env: { ...process.env, PATH, ...options.env } });
}

function startServe(bin: string, cwd: string, env: Record<string, string>): Promise<{ child: ChildProcess; output: () => string }> {
  return startUntilListening(bin, ['serve'], { cwd, env: { PATH, ...env }, timeoutSeconds: 120 });
}

describe('a production install from the packed tarball (npm pack, then npm install --omit=dev)', { timeout: INSTALL_TIMEOUT_MS + 180_000 }, () => {
  let work: string;
  let project: string;
  let bin: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'gatehouse-install-'));
    const packed = await run('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', work], { cwd: ROOT });
    assert.equal(packed.code, 0, packed.stderr);
    const tarball = (await readdir(work)).find((name) => name.endsWith('.tgz'));
    assert.ok(tarball, `npm pack wrote no tarball: ${packed.stdout}`);
    project = join(work, 'app');
    await run('mkdir', ['-p', project], { cwd: work });
    await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'gatehouse-install-check', version: '1.0.0', private: true }));
    const installed = await run('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline', join(work, tarball)], { cwd: project });
    assert.equal(installed.code, 0, installed.stderr);
    bin = join(project, 'node_modules', '.bin', 'gatehouse');
  });
  after(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('ships the build without tests, and installs no devDependency', async () => {
    const root = join(project, 'node_modules', 'gatehouse');
    await stat(join(root, 'dist', 'src', 'main.js'));
    await stat(join(root, 'dist', 'migrations', 'index.js'));
    await assert.rejects(stat(join(root, 'dist', 'test')), 'no tests');
    await assert.rejects(stat(join(root, 'dist', 'bench')), 'no benchmarks');
    await assert.rejects(stat(join(root, 'src')), 'no TypeScript sources');
    const shipped = await readdir(join(root, 'dist'), { recursive: true });
    assert.deepEqual(shipped.filter((name) => /\.spec\.|tsbuildinfo/.test(name)), [], 'no unit specs, no build state');
    await assert.rejects(stat(join(project, 'node_modules', 'typescript')), 'no compiler');
    await assert.rejects(stat(join(project, 'node_modules', 'playwright-core')), 'no test tools');
  });

  it('starts with `gatehouse serve`, and its CLI administers the running server', async () => {
    const dataDir = join(work, 'data');
    const port = await freePort();
    const env = { DATA_DIR: dataDir, LOG_LEVEL: 'warn' };
    const server = await startServe(bin, project, { ...env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info' });
    try {
      const metadata = await fetch(`http://localhost:${port}/.well-known/oauth-authorization-server`);
      assert.equal(metadata.status, 200);
      assert.equal(((await metadata.json()) as { issuer: string }).issuer, `http://localhost:${port}`);
      assert.equal((await stat(join(dataDir, 'local-admin.json'))).mode & 0o777, 0o600);

      const created = await run(bin, ['resources', 'create', '--name', 'Installed', '--resource', 'https://installed.example.com/mcp', '--scopes', 'read'], { cwd: project, env });
      assert.equal(created.code, 0, created.stderr);
      const listed = await run(bin, ['resources', 'list'], { cwd: project, env });
      assert.equal(listed.code, 0, listed.stderr);
      assert.deepEqual((JSON.parse(listed.stdout) as Array<{ resource: string }>).map((r) => r.resource), ['https://installed.example.com/mcp']);
    } finally {
      server.child.kill('SIGTERM');
    }
    assert.equal(await exitOf(server.child), 0, server.output());
  });
});
