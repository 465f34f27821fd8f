import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { RequestContext } from '../common/http.js';
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint } from 'jose';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../config/config.js';
import { EncryptionKeyMismatch, GATEHOUSE_SECRETS, type Secrets } from '../config/secrets.js';
import { decrypt, encrypt, SealedValueUnreadable } from '../common/crypto.js';
import { Database } from '../database/database.module.js';
import { AuditLog, type AuditEvent } from '../audit/audit-log.js';
import { SigningKeyRepository } from './signing-key.repository.js';
import type { EcPublicJwk, SigningKeyEntity, SigningKeyState } from './signing-key.entity.js';

export const SIGNING_ALG = 'ES256';
/** Retired keys stay in the JWKS this long: longer than the longest access token lifetime a resource may set. */
export const RETIRED_KEY_RETENTION_SECONDS = 24 * 3600 + 300;

interface LoadedKey {
  kid: string;
  state: SigningKeyEntity['state'];
  publicJwk: EcPublicJwk;
  publicKey: KeyObject;
  privateKey: KeyObject | null;
}

export interface PublicJwk extends EcPublicJwk {
  kid: string;
  alg: string;
  use: 'sig';
}

/** A signing key without its key material: what an operator sees. */
export interface SigningKeySummary {
  kid: string;
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

  async onModuleInit(): Promise<void> {
    await this.database.transaction(async (tx) => {
      await this.repository.lock(tx);
      if (!(await this.repository.findByState(tx, 'active'))) await this.generate(tx, 'active');
      if (!(await this.repository.findByState(tx, 'next'))) await this.generate(tx, 'next');
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
  async rotate(request?: RequestContext, actor?: AuditEvent['actor']): Promise<{ retired: string; active: string; next: string }> {
    const result = await this.database.transaction(async (tx) => {
      await this.repository.lock(tx);
      const now = new Date();
      const active = await this.repository.findByState(tx, 'active');
      const next = (await this.repository.findByState(tx, 'next')) ?? null;
      if (!active || !next) throw new Error('signing keys are not initialised');
      await this.repository.setState(tx, active.kid, 'retired', now);
      await this.repository.setState(tx, next.kid, 'active', now);
      const fresh = await this.generate(tx, 'next');
      await this.repository.deleteRetiredBefore(tx, new Date(now.getTime() - RETIRED_KEY_RETENTION_SECONDS * 1000));
      await this.audit.record(tx, { type: 'signing_key.rotated', data: { retired: active.kid, active: next.kid, next: fresh }, request, actor });
      return { retired: active.kid, active: next.kid, next: fresh };
    });
    await this.reload();
    return result;
  }

  /** The published keys (next, active, and retired ones still published), newest first, for the console. */
  async list(): Promise<SigningKeySummary[]> {
    const rows = await this.repository.findPublishable(new Date(Date.now() - RETIRED_KEY_RETENTION_SECONDS * 1000));
    return rows.map((row) => ({ kid: row.kid, state: row.state, createdAt: row.createdAt, activatedAt: row.activatedAt, retiredAt: row.retiredAt }));
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
    const header = Buffer.from(JSON.stringify({ alg: SIGNING_ALG, typ, kid: key.kid })).toString('base64url');
    const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
    const input = `${header}.${payload}`;
    const signature = sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
    return `${input}.${signature.toString('base64url')}`;
  }

  /** Public key by kid, for verifying tokens Gatehouse issued (introspection, revocation). */
  publicKey(kid: string): KeyObject | null {
    return this.keys.find((candidate) => candidate.kid === kid)?.publicKey ?? null;
  }

  async reload(): Promise<void> {
    const ticket = ++this.reloadsStarted;
    const since = new Date(Date.now() - RETIRED_KEY_RETENTION_SECONDS * 1000);
    const rows = await this.repository.findPublishable(since);
    if (ticket < this.reloadApplied) return;
    this.reloadApplied = ticket;
    const previous = new Map(this.keys.map((key) => [key.kid, key]));
    this.keys = rows.map((row) => ({
      kid: row.kid,
      state: row.state,
      publicJwk: row.publicJwk,
      // Built once per key, not per verification (importing a JWK costs about as much as verifying with it).
      publicKey: previous.get(row.kid)?.publicKey ?? createPublicKey({ key: { ...row.publicJwk }, format: 'jwk' }),
      // Only the active key's private half is ever decrypted into memory.
      privateKey: row.state === 'active' ? previous.get(row.kid)?.privateKey ?? this.openPrivateKey(row) : null,
    }));
    this.active = this.keys.find((key) => key.state === 'active') ?? null;
    this.jwksDocument = {
      keys: this.keys.map((key) => ({ ...key.publicJwk, kid: key.kid, alg: SIGNING_ALG, use: 'sig' as const })),
    };
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

  private async generate(tx: Parameters<SigningKeyRepository['insert']>[0], state: 'active' | 'next'): Promise<string> {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const publicJwk = publicKey.export({ format: 'jwk' });
    const kid = await calculateJwkThumbprint({ kty: 'EC', crv: publicJwk.crv, x: publicJwk.x, y: publicJwk.y });
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    await this.repository.insert(tx, {
      kid,
      alg: SIGNING_ALG,
      state,
      publicJwk: { kty: 'EC', crv: 'P-256', x: publicJwk.x!, y: publicJwk.y! },
      privateKeySealed: encrypt(this.secrets.encryptionKey, pem, `signing-key:${kid}`),
      activatedAt: state === 'active' ? new Date() : null,
    });
    this.logger.log({ msg: 'signing key generated', kid, state });
    return kid;
  }
}
