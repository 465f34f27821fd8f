import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';

// Shared by the specs (named so that neither the test runner nor the package picks it up).

export const RESOURCE = 'https://notes.example.com/notes';
export const PRM = 'https://notes.example.com/.well-known/oauth-protected-resource/notes';

/** A JWKS on loopback with one ES256 key made at run time, and tokens signed the way Gatehouse signs them. */
export class Issuer {
  private server: Server | undefined;
  private keys: Awaited<ReturnType<typeof generateKeyPair>> | undefined;
  url = '';

  async start(): Promise<this> {
    this.keys = await generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await exportJWK(this.keys.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    this.server = createServer((_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] })));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** Defaults: this issuer, RESOURCE, user-1 via client-1, scope `notes:read`, valid 5 minutes. */
  sign(claims: Record<string, unknown> = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const payload = { iss: this.url, aud: RESOURCE, sub: 'user-1', client_id: 'client-1', scope: 'notes:read', iat: now, exp: now + 300, ...claims };
    return new SignJWT(payload as JWTPayload).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'k1' }).sign(this.keys!.privateKey);
  }
}
