import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTHeaderParameters, type JWTPayload } from 'jose';

/** An ES256 key pair made at run time, with the public half as the JWK a JWKS would publish. */
export interface SigningKey {
  kid: string;
  privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
  publicKey: Awaited<ReturnType<typeof generateKeyPair>>['publicKey'];
  publicJwk: JWK;
}

export async function signingKey(kid = `k-${randomBytes(6).toString('hex')}`): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  return { kid, privateKey, publicKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } };
}

/**
 * How the JWKS endpoint behaves: `up` serves the published keys; `error` answers 500 (Gatehouse failing);
 * `reset` drops the connection (Gatehouse unreachable); `not-a-key-set` answers 200 with JSON that is no JWKS.
 */
export type JwksMode = 'up' | 'error' | 'reset' | 'not-a-key-set';

export interface SignOptions {
  /** Claims to add or replace; `undefined` removes a default claim. */
  claims?: Record<string, unknown>;
  /** Header parameters to add or replace (default `{ alg: 'ES256', typ: 'at+jwt', kid }`). */
  header?: Partial<JWTHeaderParameters>;
  /** Sign with this key instead of the issuer's current one (its kid is used unless `header.kid` says otherwise). */
  key?: SigningKey;
}

/**
 * Stands in for Gatehouse's signing side, for tests of gatehouse-guard without a Gatehouse: keys generated at run
 * time, a JWKS endpoint on loopback that counts (and times) every fetch and can be made to fail, and access tokens
 * signed the way Gatehouse signs them (RFC 9068 claims, `typ: at+jwt`).
 */
export class FakeIssuer {
  /** performance.now() at each JWKS request received. */
  readonly fetchedAt: number[] = [];
  mode: JwksMode = 'up';
  private readonly published = new Map<string, JWK>();
  private server: Server | null = null;
  private base = '';

  constructor(
    /** The `aud` tokens get by default. */
    readonly audience: string,
    /** The key tokens are signed with by default; published at start(). */
    readonly key: SigningKey,
  ) {}

  static async create(audience: string): Promise<FakeIssuer> {
    return new FakeIssuer(audience, await signingKey());
  }

  /** The issuer identifier (`iss`). */
  get issuer(): string {
    return `${this.base}/issuer`;
  }

  get jwksUri(): string {
    return `${this.base}/jwks.json`;
  }

  get fetches(): number {
    return this.fetchedAt.length;
  }

  async start(): Promise<this> {
    this.publish(this.key);
    this.server = createServer((req, res) => {
      if (req.url !== '/jwks.json') return void res.writeHead(404).end();
      this.fetchedAt.push(performance.now());
      if (this.mode === 'reset') return void req.socket.destroy();
      if (this.mode === 'error') return void res.writeHead(500, { 'content-type': 'text/plain' }).end('internal error');
      if (this.mode === 'not-a-key-set') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys":"none"}');
      res.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(JSON.stringify({ keys: [...this.published.values()] }));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  publish(key: SigningKey): void {
    this.published.set(key.kid, key.publicJwk);
  }

  unpublish(key: SigningKey): void {
    this.published.delete(key.kid);
  }

  /** Default claims: this issuer, the audience, a subject and client, scope `a`, issued now, valid 5 minutes. */
  async sign(options: SignOptions = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const key = options.key ?? this.key;
    const claims: Record<string, unknown> = {
      iss: this.issuer,
      aud: this.audience,
      sub: 'user-1',
      client_id: 'client-1',
      scope: 'a',
      iat: now,
      exp: now + 300,
      jti: randomUUID(),
      ...options.claims,
    };
    for (const [name, value] of Object.entries(claims)) if (value === undefined) delete claims[name];
    return new SignJWT(claims as JWTPayload).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: key.kid, ...options.header }).sign(key.privateKey);
  }
}
