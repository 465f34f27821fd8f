import { afterEach, describe, it, mock } from 'node:test';
import { strict as assert } from 'node:assert';
import { Logger } from '@nestjs/common';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { encrypt } from '../common/crypto.js';
import type { GatehouseConfig, SigningAlg } from '../config/config.js';
import { EncryptionKeyMismatch, type Secrets } from '../config/secrets.js';
import type { Database } from '../database/database.module.js';
import type { AuditEvent, AuditLog } from '../audit/audit-log.js';
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
  const config = { keyReloadSeconds, dataDir: '/var/lib/gatehouse', signingAlg: 'ES256', ...configured } as GatehouseConfig;
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
      { keyReloadSeconds: 30, dataDir: '/var/lib/gatehouse', signingAlg: 'ES256', encryptionKey: undefined } as GatehouseConfig,
      {} as AuditLog,
    );
    await assert.rejects(keys.onModuleInit(), /^EncryptionKeyMismatch: The encryption key in \/var\/lib\/gatehouse\/encryption\.key \(ENCRYPTION_KEY is unset\) does not match/);
  });
});

/** An in-memory key table with the repository's writes, and the audit events recorded. */
function memoryKeys(initial: SigningKeyEntity[] = []) {
  let rows = initial;
  const events: AuditEvent[] = [];
  const repository = {
    lock: async () => {},
    findByState: async (_tx: unknown, state: SigningKeyState) => rows.find((row) => row.state === state) ?? null,
    findPublishable: async () => rows.filter((row) => row.state !== 'retired' || (row.retiredAt?.getTime() ?? 0) > Date.now() - 86_400_000),
    insert: async (_tx: unknown, row: SigningKeyEntity) => void (rows = [...rows, { ...row }]),
    setState: async (_tx: unknown, kid: string, state: 'active' | 'retired', at: Date) =>
      void (rows = rows.map((row) => (row.kid !== kid ? row : state === 'active' ? { ...row, state, activatedAt: at } : { ...row, state, retiredAt: at }))),
    deleteRetiredBefore: async (_tx: unknown, before: Date) => void (rows = rows.filter((row) => row.state !== 'retired' || row.retiredAt! >= before)),
  } as unknown as SigningKeyRepository;
  const audit = { record: async (_tx: unknown, event: AuditEvent) => void events.push(event) } as unknown as AuditLog;
  const service = (signingAlg: SigningAlg) => {
    const database = { transaction: async (work: (tx: unknown) => Promise<unknown>) => work({}) } as unknown as Database;
    const config = { keyReloadSeconds: 30, dataDir: '/var/lib/gatehouse', signingAlg } as GatehouseConfig;
    return new KeyService(database, repository, { encryptionKey, cookieKey: randomBytes(32) }, config, audit);
  };
  return { rows: () => rows, setRows: (next: SigningKeyEntity[]) => void (rows = next), events, service };
}

/** Boots a KeyService (its reload timer stopped at once) over `keys`, signing with `alg`. */
async function boot(keys: ReturnType<typeof memoryKeys>, alg: SigningAlg): Promise<KeyService> {
  const service = keys.service(alg);
  await service.onModuleInit();
  service.onApplicationShutdown();
  return service;
}

async function verifyWithJose(service: KeyService, token: string, alg: SigningAlg) {
  const jwks = createLocalJWKSet(service.jwks() as unknown as JSONWebKeySet);
  return jwtVerify(token, jwks, { typ: 'at+jwt', algorithms: [alg] });
}

// Key generation is logged; not on the test's output.
Logger.overrideLogger(false);

describe('KeyService signing algorithms', () => {
  for (const alg of ['ES256', 'RS256', 'EdDSA'] as const) {
    it(`makes ${alg} keys on first boot and signs tokens jose verifies against the JWKS with alg ${alg}`, async () => {
      const keys = memoryKeys();
      const service = await boot(keys, alg);
      assert.deepEqual(keys.rows().map((row) => [row.state, row.alg]).sort(), [['active', alg], ['next', alg]]);
      const token = service.signJwt({ sub: 'user-1', iat: Math.floor(Date.now() / 1000) }, 'at+jwt');
      const { payload, protectedHeader } = await verifyWithJose(service, token, alg);
      assert.equal(payload.sub, 'user-1');
      assert.deepEqual(protectedHeader, { alg, typ: 'at+jwt', kid: keys.rows().find((row) => row.state === 'active')!.kid });
      for (const jwk of service.jwks().keys) assert.equal(jwk.alg, alg);
      const kty = { ES256: 'EC', RS256: 'RSA', EdDSA: 'OKP' }[alg];
      assert.ok(service.jwks().keys.every((jwk) => jwk.kty === kty && jwk.use === 'sig'));
      if (alg === 'RS256') assert.equal(Buffer.from((service.jwks().keys[0] as { n: string }).n, 'base64url').length * 8, 2048);
    });
  }

  it('switches at the first boot with another SIGNING_ALG, recorded as a system rotation, and keeps the old keys published', async () => {
    const keys = memoryKeys();
    const before = await boot(keys, 'ES256');
    const oldToken = before.signJwt({ sub: 'user-1' }, 'at+jwt');
    const [oldActive, oldNext] = (['active', 'next'] as const).map((state) => keys.rows().find((row) => row.state === state)!);

    const after = await boot(keys, 'RS256');
    const active = keys.rows().find((row) => row.state === 'active')!;
    const next = keys.rows().find((row) => row.state === 'next')!;
    assert.deepEqual([active.alg, next.alg], ['RS256', 'RS256']);
    assert.deepEqual(keys.rows().filter((row) => row.state === 'retired').map((row) => row.kid).sort(), [oldActive!.kid, oldNext!.kid].sort());
    assert.deepEqual(keys.events, [
      { type: 'signing_key.rotated', data: { retired: oldActive!.kid, active: active.kid, next: next.kid, alg: 'RS256', previous_alg: 'ES256' }, actor: { kind: 'system', id: null } },
    ]);
    const newToken = after.signJwt({ sub: 'user-2' }, 'at+jwt');
    assert.equal(decodeProtectedHeader(newToken).alg, 'RS256');
    await verifyWithJose(after, newToken, 'RS256');
    assert.equal((await verifyWithJose(after, oldToken, 'ES256')).payload.sub, 'user-1', 'the ES256 token of before still verifies');
    assert.deepEqual(after.jwks().keys.map((jwk) => jwk.alg).sort(), ['ES256', 'ES256', 'RS256', 'RS256']);

    await boot(keys, 'RS256');
    assert.equal(keys.events.length, 1, 'a boot with the same SIGNING_ALG changes nothing');
  });

  /** Makes the active key look as if it had started signing `ms` ago. */
  function age(keys: ReturnType<typeof memoryKeys>, ms: number): void {
    keys.setRows(keys.rows().map((row) => (row.state === 'active' ? { ...row, activatedAt: new Date(Date.now() - ms) } : row)));
  }
  const day = 86_400_000;

  it('rotates on schedule once the active key is old enough, once, recorded with actor system', async () => {
    const keys = memoryKeys();
    const service = await boot(keys, 'EdDSA');
    assert.equal(await service.rotateIfOlderThan(day), null, 'a fresh key is not due');
    const [active, next] = (['active', 'next'] as const).map((state) => keys.rows().find((row) => row.state === state)!);
    age(keys, day + 1000);
    await service.reload();
    const rotation = await service.rotateIfOlderThan(day);
    assert.deepEqual(rotation && { retired: rotation.retired, active: rotation.active, alg: rotation.alg }, { retired: active!.kid, active: next!.kid, alg: 'EdDSA' });
    assert.deepEqual(keys.events.map((event) => [event.type, event.actor]), [['signing_key.rotated', { kind: 'system', id: null }]]);
    assert.equal(decodeProtectedHeader(service.signJwt({}, 'at+jwt')).kid, next!.kid, 'the instance signs with the promoted key at once');
    assert.equal(await service.rotateIfOlderThan(day), null, 'the promoted key has only just started signing');
    assert.equal(keys.events.length, 1);
  });

  it('decides again under the lock: an instance whose view is stale does not rotate a key another instance just rotated', async () => {
    const keys = memoryKeys();
    const first = await boot(keys, 'ES256');
    const second = await boot(keys, 'ES256');
    age(keys, day + 1000);
    await first.reload();
    await second.reload();
    assert.ok(await first.rotateIfOlderThan(day));
    // `second` has not re-read the keys since: it still believes the old key active and due.
    assert.equal(await second.rotateIfOlderThan(day), null);
    assert.equal(keys.events.length, 1);
  });
});
