import { afterEach, describe, it, mock } from 'node:test';
import { strict as assert } from 'node:assert';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { encrypt } from '../common/crypto.js';
import type { GatehouseConfig } from '../config/config.js';
import { EncryptionKeyMismatch, type Secrets } from '../config/secrets.js';
import type { Database } from '../database/database.module.js';
import type { AuditLog } from '../audit/audit-log.js';
import { KeyService } from './key.service.js';
import type { SigningKeyEntity, SigningKeyState } from './signing-key.entity.js';
import type { SigningKeyRepository } from './signing-key.repository.js';

/**
 * KeyService with its database faked: what another instance sees of a rotation depends only on when it re-reads
 * the keys and on which read wins, so both are tested here without a database.
 */

const encryptionKey = randomBytes(32);

function keyRow(kid: string, state: SigningKeyState): SigningKeyEntity {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' });
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  return {
    kid,
    alg: 'ES256',
    state,
    publicJwk: { kty: 'EC', crv: 'P-256', x: jwk.x!, y: jwk.y! },
    privateKeySealed: encrypt(encryptionKey, pem, `signing-key:${kid}`),
    createdAt: new Date(),
    activatedAt: state === 'active' ? new Date() : null,
    retiredAt: state === 'retired' ? new Date() : null,
  };
}

/** A repository whose findPublishable answers from `reads`, one queued answer per call (or the current rows). */
function fakeRepository(rows: () => SigningKeyEntity[]) {
  const reads: Array<Promise<SigningKeyEntity[]>> = [];
  let calls = 0;
  const repository = {
    lock: async () => {},
    findByState: async (_tx: unknown, state: SigningKeyState) => rows().find((row) => row.state === state) ?? null,
    findPublishable: async () => {
      calls++;
      return reads.shift() ?? rows();
    },
  };
  return { repository: repository as unknown as SigningKeyRepository, reads, calls: () => calls };
}

function keyService(repository: SigningKeyRepository, keyReloadSeconds = 30, configured: Partial<GatehouseConfig> = {}): KeyService {
  const database = { transaction: async (work: (tx: unknown) => Promise<unknown>) => work({}) } as unknown as Database;
  const secrets: Secrets = { encryptionKey: configured.encryptionKey ?? encryptionKey, cookieKey: randomBytes(32) };
  const config = { keyReloadSeconds, dataDir: '/var/lib/gatehouse', ...configured } as GatehouseConfig;
  return new KeyService(database, repository, secrets, config, {} as AuditLog);
}

function signingKid(keys: KeyService): string {
  const token = keys.signJwt({ sub: 'x' }, 'at+jwt');
  return (JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8')) as { kid: string }).kid;
}

describe('KeyService re-reading keys another instance rotated', () => {
  afterEach(() => mock.restoreAll());

  it('re-reads every KEY_RELOAD_SECONDS and then signs with the key the rotation activated', async () => {
    const intervals: Array<{ run: () => void; ms: number | undefined }> = [];
    mock.method(globalThis, 'setInterval', (run: () => void, ms?: number) => {
      intervals.push({ run, ms });
      return { unref() {} };
    });
    mock.method(globalThis, 'clearInterval', () => {});
    const before = [keyRow('k-active', 'active'), keyRow('k-next', 'next')];
    let current = before;
    const { repository, calls } = fakeRepository(() => current);
    const keys = keyService(repository, 2);
    await keys.onModuleInit();
    assert.equal(signingKid(keys), 'k-active');
    assert.equal(intervals.length, 1);
    assert.equal(intervals[0]!.ms, 2000, 'the interval is KEY_RELOAD_SECONDS');

    // Another instance rotates: k-active retired, k-next active, k-fresh published. Then the interval fires.
    current = [{ ...before[0]!, state: 'retired', retiredAt: new Date() }, { ...before[1]!, state: 'active' }, keyRow('k-fresh', 'next')];
    assert.equal(signingKid(keys), 'k-active', 'nothing changes before the re-read');
    intervals[0]!.run();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(calls(), 2);
    assert.equal(signingKid(keys), 'k-next');
    assert.deepEqual(keys.jwks().keys.map((key) => key.kid).sort(), ['k-active', 'k-fresh', 'k-next']);
    keys.onApplicationShutdown();
  });

  it('keeps the newest read when an older, slower one finishes last', async () => {
    const before = [keyRow('k-active', 'active'), keyRow('k-next', 'next')];
    const after = [{ ...before[0]!, state: 'retired' as const, retiredAt: new Date() }, { ...before[1]!, state: 'active' as const }, keyRow('k-fresh', 'next')];
    const { repository, reads } = fakeRepository(() => after);
    const keys = keyService(repository);

    let finishSlowRead!: (rows: SigningKeyEntity[]) => void;
    reads.push(new Promise((resolve) => (finishSlowRead = resolve)));
    const slow = keys.reload(); // e.g. the periodic reload, which read before the rotation committed
    await keys.reload(); // the reload after the rotation
    assert.equal(signingKid(keys), 'k-next');
    finishSlowRead(before);
    await slow;
    assert.equal(signingKid(keys), 'k-next', 'the stale read does not bring the retired key back');
    assert.ok(keys.jwks().keys.some((key) => key.kid === 'k-fresh'));
  });
});

describe('KeyService with another encryption key than the one its keys were sealed with', () => {
  it('refuses to start, naming ENCRYPTION_KEY and the way out, instead of a bare GCM failure', async () => {
    const { repository } = fakeRepository(() => [keyRow('k-active', 'active'), keyRow('k-next', 'next')]);
    const keys = keyService(repository, 30, { encryptionKey: randomBytes(32) });
    await assert.rejects(keys.onModuleInit(), (error: unknown) => {
      assert.ok(error instanceof EncryptionKeyMismatch, String(error));
      assert.match(error.message, /^ENCRYPTION_KEY does not match the key the stored signing keys were sealed with: restore the previous key \(see docs\/operations\.md, backup\) or /);
      return true;
    });
  });

  it('names the key file when ENCRYPTION_KEY is unset (embedded database)', async () => {
    const { repository } = fakeRepository(() => [keyRow('k-active', 'active'), keyRow('k-next', 'next')]);
    const keys = new KeyService(
      { transaction: async (work: (tx: unknown) => Promise<unknown>) => work({}) } as unknown as Database,
      repository,
      { encryptionKey: randomBytes(32), cookieKey: randomBytes(32) },
      { keyReloadSeconds: 30, dataDir: '/var/lib/gatehouse', encryptionKey: undefined } as GatehouseConfig,
      {} as AuditLog,
    );
    await assert.rejects(keys.onModuleInit(), /^EncryptionKeyMismatch: The encryption key in \/var\/lib\/gatehouse\/encryption\.key \(ENCRYPTION_KEY is unset\) does not match/);
  });
});
