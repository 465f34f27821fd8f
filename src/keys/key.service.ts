import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { RequestContext } from '../common/http.js';
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { GATEHOUSE_CONFIG, type GatehouseConfig, type SigningAlg } from '../config/config.js';
import { EncryptionKeyMismatch, GATEHOUSE_SECRETS, type Secrets } from '../config/secrets.js';
import { decrypt, encrypt, SealedValueUnreadable } from '../common/crypto.js';
import { Database } from '../database/database.module.js';
import type { Tx } from '../database/data-source.js';
import { AuditLog, type AuditEvent } from '../audit/audit-log.js';
import { SigningKeyRepository } from './signing-key.repository.js';
import type { SigningKeyEntity, SigningKeyState } from './signing-key.entity.js';
import { assertKeyFits, generateKeyMaterial, isSigningAlg, signatureOf, type KeyMaterial, type PublicKeyJwk } from './signing-algorithms.js';

/** Retired keys stay in the JWKS this long: longer than the longest access token lifetime a resource may set. */
export const RETIRED_KEY_RETENTION_SECONDS = 24 * 3600 + 300;

/** A published key's public half and the one algorithm it verifies: a token whose header names another is refused. */
export interface VerificationKey {
  readonly alg: SigningAlg;
  readonly key: KeyObject;
}

interface LoadedKey {
  kid: string;
  alg: SigningAlg;
  state: SigningKeyEntity['state'];
  activatedAt: Date | null;
  publicJwk: PublicKeyJwk;
  verification: VerificationKey;
  privateKey: KeyObject | null;
}

export type PublicJwk = PublicKeyJwk & { kid: string; alg: SigningAlg; use: 'sig' };

/** The kids a rotation moved, and the algorithm the now active key signs with. */
export interface KeyRotation {
  retired: string;
  active: string;
  next: string;
  alg: SigningAlg;
}

/** A signing key without its key material: what an operator sees. */
export interface SigningKeySummary {
  kid: string;
  alg: SigningAlg;
  state: SigningKeyState;
  createdAt: Date;
  activatedAt: Date | null;
  retiredAt: Date | null;
}

/**
 * Signing keys: generated on first boot, kept encrypted at rest, rotated next → active → retired.
 * A `next` key is published before it signs anything, so resource servers' JWKS caches know it in time.
 *
 * Several instances share the keys through the database. Each re-reads them every KEY_RELOAD_SECONDS, so a rotation
 * made elsewhere (another instance, the CLI) is served and used for signing within that time. Until then the other
 * instances still verify the tokens the rotating instance signs, because its new active key is the `next` key
 * they already hold; and what they sign meanwhile with the just-retired key stays verifiable, because retired keys
 * stay published.
 *
 * Keys are made for SIGNING_ALG (ES256, RS256 or EdDSA); each row records its algorithm, and each key signs and
 * verifies with its own, so keys of another algorithm stay usable for verification until they retire. When SIGNING_ALG
 * changes, the next start switches at once: see onModuleInit.
 *
 * Signatures use node:crypto directly: jose's WebCrypto path signs ES256 several times slower (docs/benchmarks.md),
 * and every token issued is signed.
 */
@Injectable()
export class KeyService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('Keys');
  private keys: LoadedKey[] = [];
  private active: LoadedKey | null = null;
  private jwksDocument: { keys: PublicJwk[] } = { keys: [] };
  private timer: NodeJS.Timeout | undefined;
  /** Reloads started and the newest one applied: a slow reload that read before a rotation must not undo it. */
  private reloadsStarted = 0;
  private reloadApplied = 0;

  constructor(
    private readonly database: Database,
    private readonly repository: SigningKeyRepository,
    @Inject(GATEHOUSE_SECRETS) private readonly secrets: Secrets,
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    private readonly audit: AuditLog,
  ) {}

  /**
   * Makes sure there is an active and a next key of SIGNING_ALG. After SIGNING_ALG changed, the keys of the old
   * algorithm are rotated out at once (recorded as `signing_key.rotated` with actor `system`): the next key, which never
   * signed, is retired in favour of one of the new algorithm, and the active key is retired in favour of that. Retired
   * keys stay published for RETIRED_KEY_RETENTION_SECONDS, longer than any access token lives, so tokens signed before
   * the switch keep verifying everywhere; resource servers fetch the new kid when they first see it (as after any
   * first boot), and other instances sign with it within KEY_RELOAD_SECONDS.
   */
  async onModuleInit(): Promise<void> {
    const wanted = this.config.signingAlg;
    await this.database.transaction(async (tx) => {
      await this.repository.lock(tx);
      const now = new Date();
      const active = await this.repository.findByState(tx, 'active');
      let next = await this.repository.findByState(tx, 'next');
      if (next && next.alg !== wanted) {
        await this.repository.setState(tx, next.kid, 'retired', now);
        next = null;
      }
      if (!next) next = await this.insert(tx, await generateKeyMaterial(wanted), 'next');
      if (!active) await this.insert(tx, await generateKeyMaterial(wanted), 'active');
      else if (active.alg !== wanted) {
        const rotation = await this.rotateIn(tx, active, next, await generateKeyMaterial(wanted), now);
        await this.audit.record(tx, { type: 'signing_key.rotated', data: { ...rotation, previous_alg: active.alg }, actor: { kind: 'system', id: null } });
        this.logger.log({ msg: 'signing algorithm changed', from: active.alg, to: wanted, active: rotation.active });
      }
    });
    await this.reload();
    this.timer = setInterval(
      () => void this.reload().catch((error: unknown) => this.logger.warn({ msg: 'key reload failed' }, error)),
      this.config.keyReloadSeconds * 1000,
    );
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /**
   * Retires the active key, promotes the published `next`, and publishes a fresh `next`. `actor`: who rotated, when not
   * the administrator the event names by default (a console operator).
   */
  async rotate(request?: RequestContext, actor?: AuditEvent['actor']): Promise<KeyRotation> {
    const rotation = await this.rotateWhen(() => true, request, actor);
    if (!rotation) throw new Error('signing keys are not initialised');
    return rotation;
  }

  /**
   * Scheduled rotation (KEY_ROTATION_DAYS): rotates, recorded with actor `system`, when the active key has been active
   * for `maxAgeMs` or longer; null when it has not. Decided again under the key lock, so that of several instances
   * finding the same key due, one rotates and the others then find a fresh active key.
   */
  async rotateIfOlderThan(maxAgeMs: number, now: () => Date = () => new Date()): Promise<KeyRotation | null> {
    const due = (activatedAt: Date | null): boolean => activatedAt !== null && now().getTime() - activatedAt.getTime() >= maxAgeMs;
    // This instance's view (at most KEY_RELOAD_SECONDS old) spares a key generation and a lock when nothing is due.
    if (this.active && !due(this.active.activatedAt)) return null;
    return this.rotateWhen((active) => due(active.activatedAt), undefined, { kind: 'system', id: null });
  }

  /** Rotates in one transaction under the key lock if `due(active)` still holds there; reloads after a rotation. */
  private async rotateWhen(due: (active: SigningKeyEntity) => boolean, request?: RequestContext, actor?: AuditEvent['actor']): Promise<KeyRotation | null> {
    // Made before the transaction: an RSA key takes long enough that it should not be made while the lock is held.
    const fresh = await generateKeyMaterial(this.config.signingAlg);
    const rotation = await this.database.transaction(async (tx) => {
      await this.repository.lock(tx);
      const active = await this.repository.findByState(tx, 'active');
      const next = await this.repository.findByState(tx, 'next');
      if (!active || !next || !due(active)) return null;
      const result = await this.rotateIn(tx, active, next, fresh, new Date());
      await this.audit.record(tx, { type: 'signing_key.rotated', data: { ...result }, request, actor });
      return result;
    });
    if (rotation) await this.reload();
    return rotation;
  }

  /** Retires `active`, promotes `next` (already published), publishes `fresh` as the next key; drops long-retired keys. */
  private async rotateIn(tx: Tx, active: SigningKeyEntity, next: SigningKeyEntity, fresh: KeyMaterial, now: Date): Promise<KeyRotation> {
    await this.repository.setState(tx, active.kid, 'retired', now);
    await this.repository.setState(tx, next.kid, 'active', now);
    await this.insert(tx, fresh, 'next');
    await this.repository.deleteRetiredBefore(tx, new Date(now.getTime() - RETIRED_KEY_RETENTION_SECONDS * 1000));
    return { retired: active.kid, active: next.kid, next: fresh.kid, alg: next.alg };
  }

  /** The published keys (next, active, and retired ones still published), newest first, for the console. */
  async list(): Promise<SigningKeySummary[]> {
    const rows = await this.repository.findPublishable(new Date(Date.now() - RETIRED_KEY_RETENTION_SECONDS * 1000));
    return rows.map((row) => ({ kid: row.kid, alg: row.alg, state: row.state, createdAt: row.createdAt, activatedAt: row.activatedAt, retiredAt: row.retiredAt }));
  }

  jwks(): { keys: PublicJwk[] } {
    return this.jwksDocument;
  }

  /** Throws unless signJwt can sign now. For callers that commit a change before they sign (the refresh grant). */
  assertCanSign(): void {
    if (!this.active?.privateKey) throw new Error('no active signing key');
  }

  /** Signs a JWT with the active key. `typ` distinguishes access tokens (`at+jwt`, RFC 9068 §2.1). */
  signJwt(claims: Record<string, unknown>, typ: string): string {
    const key = this.active;
    if (!key?.privateKey) throw new Error('no active signing key');
    const header = Buffer.from(JSON.stringify({ alg: key.alg, typ, kid: key.kid })).toString('base64url');
    const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
    const input = `${header}.${payload}`;
    return `${input}.${signatureOf(key.alg, key.privateKey, Buffer.from(input)).toString('base64url')}`;
  }

  /**
   * A published key by kid, for verifying tokens Gatehouse issued (introspection, revocation). The same object for
   * as long as the key stays published, so that callers may remember what it verified.
   */
  verificationKey(kid: string): VerificationKey | null {
    return this.keys.find((candidate) => candidate.kid === kid)?.verification ?? null;
  }

  async reload(): Promise<void> {
    const ticket = ++this.reloadsStarted;
    const since = new Date(Date.now() - RETIRED_KEY_RETENTION_SECONDS * 1000);
    const rows = await this.repository.findPublishable(since);
    if (ticket < this.reloadApplied) return;
    this.reloadApplied = ticket;
    const previous = new Map(this.keys.map((key) => [key.kid, key]));
    this.keys = rows.map((row) => {
      const known = previous.get(row.kid);
      return {
        kid: row.kid,
        alg: row.alg,
        state: row.state,
        activatedAt: row.activatedAt,
        publicJwk: row.publicJwk,
        // Built once per key, not per verification (importing a JWK costs about as much as verifying with it).
        verification: known?.verification ?? this.openPublicKey(row),
        // Only the active key's private half is ever decrypted into memory.
        privateKey: row.state === 'active' ? known?.privateKey ?? this.openPrivateKey(row) : null,
      };
    });
    this.active = this.keys.find((key) => key.state === 'active') ?? null;
    this.jwksDocument = {
      keys: this.keys.map((key) => ({ ...key.publicJwk, kid: key.kid, alg: key.alg, use: 'sig' as const })),
    };
  }

  /** A row's public key, checked against its algorithm: a row that disagrees with itself is refused, never guessed at. */
  private openPublicKey(row: SigningKeyEntity): VerificationKey {
    if (!isSigningAlg(row.alg)) throw new Error(`signing key ${row.kid} has an unknown algorithm ${JSON.stringify(row.alg)}`);
    const key = createPublicKey({ key: { ...row.publicJwk }, format: 'jwk' });
    assertKeyFits(row.alg, key);
    return Object.freeze({ alg: row.alg, key });
  }

  private openPrivateKey(row: SigningKeyEntity): KeyObject {
    try {
      return createPrivateKey(decrypt(this.secrets.encryptionKey, row.privateKeySealed, `signing-key:${row.kid}`));
    } catch (error) {
      if (!(error instanceof SealedValueUnreadable)) throw error;
      // At boot this stops the process with the message; on a later reload it is logged and the old keys stay.
      throw new EncryptionKeyMismatch(
        this.config,
        'the stored signing keys were',
        'delete the stored signing keys so that new ones are generated at the next start (docs/operations.md, "Lost encryption key"); tokens already issued then stop verifying',
      );
    }
  }

  private async insert(tx: Tx, material: KeyMaterial, state: 'active' | 'next'): Promise<SigningKeyEntity> {
    const row: SigningKeyEntity = {
      kid: material.kid,
      alg: material.alg,
      state,
      publicJwk: material.publicJwk,
      privateKeySealed: encrypt(this.secrets.encryptionKey, material.privateKeyPem, `signing-key:${material.kid}`),
      createdAt: new Date(),
      activatedAt: state === 'active' ? new Date() : null,
      retiredAt: null,
    };
    await this.repository.insert(tx, row);
    this.logger.log({ msg: 'signing key generated', kid: material.kid, alg: material.alg, state });
    return row;
  }
}
