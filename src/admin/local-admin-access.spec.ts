import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Request } from 'express';
import { isLoopbackAddress, LocalAdminAccess, loopbackUrl } from './local-admin-access.js';
import { readLocalAdminCredential, removeLocalAdminCredential, writeLocalAdminCredential } from './local-admin-file.js';
import type { GatehouseConfig } from '../config/config.js';

function request(remoteAddress: string, headers: Record<string, string> = {}): Request {
  return { socket: { remoteAddress }, headers } as unknown as Request;
}

describe('LocalAdminAccess', () => {
  const access = new LocalAdminAccess({ dataDir: '/nonexistent' } as GatehouseConfig);

  it('holds 32 random bytes, new for each instance', () => {
    assert.equal(Buffer.from(access.token, 'base64url').length, 32);
    assert.notEqual(new LocalAdminAccess({ dataDir: '/x' } as GatehouseConfig).token, access.token);
  });

  it('accepts its token from a loopback peer only, and never through a proxy', () => {
    assert.equal(access.accepts(access.token, request('127.0.0.1')), true);
    assert.equal(access.accepts(access.token, request('::1')), true);
    assert.equal(access.accepts(access.token, request('::ffff:127.0.0.1')), true);
    assert.equal(access.accepts(access.token, request('192.0.2.7')), false, 'another machine');
    assert.equal(access.accepts(access.token, request('127.0.0.1', { 'x-forwarded-for': '192.0.2.7' })), false, 'relayed by a local proxy');
    assert.equal(access.accepts(access.token, request('127.0.0.1', { forwarded: 'for=192.0.2.7' })), false);
    assert.equal(access.accepts(access.token.slice(0, -1) + 'x', request('127.0.0.1')), false, 'another token');
    assert.equal(access.accepts('', request('127.0.0.1')), false);
  });

  it('publishes a URL the CLI can reach over loopback', () => {
    assert.equal(loopbackUrl({ address: '0.0.0.0', family: 'IPv4', port: 3000 }), 'http://127.0.0.1:3000');
    assert.equal(loopbackUrl({ address: '::', family: 'IPv6', port: 3000 }), 'http://127.0.0.1:3000');
    assert.equal(loopbackUrl({ address: '::1', family: 'IPv6', port: 3000 }), 'http://[::1]:3000');
    assert.equal(loopbackUrl({ address: '127.0.0.1', family: 'IPv4', port: 8080 }), 'http://127.0.0.1:8080');
    assert.equal(loopbackUrl({ address: '10.1.2.3', family: 'IPv4', port: 3000 }), null, 'an external interface only');
    assert.equal(isLoopbackAddress(undefined), false);
  });
});

describe('the local admin credential file', () => {
  it('is written 0600, replaced whole, and removed only by the server that wrote it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-local-admin-'));
    try {
      const previousUmask = process.umask(0o000);
      try {
        await writeLocalAdminCredential(dir, { url: 'http://127.0.0.1:1', token: 'first', pid: 1 });
      } finally {
        process.umask(previousUmask);
      }
      const file = join(dir, 'local-admin.json');
      assert.equal((await stat(file)).mode & 0o777, 0o600, 'owner-only even with an open umask');
      await writeLocalAdminCredential(dir, { url: 'http://127.0.0.1:2', token: 'second', pid: 2 });
      assert.equal((await stat(file)).mode & 0o777, 0o600);
      assert.deepEqual(await readLocalAdminCredential(dir), { url: 'http://127.0.0.1:2', token: 'second', pid: 2 });
      await removeLocalAdminCredential(dir, 'first');
      assert.match(await readFile(file, 'utf8'), /second/, 'a later server keeps its credential');
      await removeLocalAdminCredential(dir, 'second');
      assert.equal(await readLocalAdminCredential(dir), null);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reads a damaged file as no credential', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-local-admin-'));
    try {
      await writeLocalAdminCredential(dir, { url: 'http://127.0.0.1:1', token: 't', pid: 1 });
      await writeFile(join(dir, 'local-admin.json'), '{"url":');
      assert.equal(await readLocalAdminCredential(dir), null);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
