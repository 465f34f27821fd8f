import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { AccessTokenVerifier, ALGORITHMS, TokenRejected } from './token-verifier.js';

const RESOURCE = 'https://mcp.example.test/mcp';

interface TestKey {
  alg: string;
  kid: string;
  privateKey: CryptoKey;
  jwk: JWK;
}

async function testKey(alg: string, kid: string, options: { modulusLength?: number } = {}): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...options });
  return { alg, kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

/**
 * The verifier against a JWKS served on loopback, as Gatehouse serves it, holding a key of each algorithm Gatehouse
 * signs with and of some it never does.
 */
describe('AccessTokenVerifier, signing algorithms', () => {
  let server: Server;
  let issuer: string;
  const keys: Record<string, TestKey> = {};

  before(async () => {
    for (const alg of ['ES256', 'RS256', 'EdDSA', 'PS256', 'ES384', 'RS512']) keys[alg] = await testKey(alg, `kid-${alg}`);
    server = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/jwk-set+json' });
      response.end(JSON.stringify({ keys: Object.values(keys).map((key) => key.jwk) }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const verifier = () => new AccessTokenVerifier({ issuer, resource: RESOURCE });

  function token(key: TestKey, header: Record<string, unknown> = {}): Promise<string> {
    return new SignJWT({ client_id: 'client-1', scope: 'tools:read' })
      .setProtectedHeader({ alg: key.alg, typ: 'at+jwt', kid: key.kid, ...header })
      .setIssuer(issuer)
      .setAudience(RESOURCE)
      .setSubject('user-1')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(key.privateKey);
  }

  it('allows exactly the algorithms Gatehouse signs with', () => {
    assert.deepEqual([...ALGORITHMS].sort(), ['ES256', 'EdDSA', 'RS256']);
  });

  for (const alg of ['ES256', 'RS256', 'EdDSA']) {
    it(`verifies a Gatehouse token signed with ${alg}`, async () => {
      const auth = await verifier().verify(await token(keys[alg]!));
      assert.equal(auth.sub, 'user-1');
      assert.deepEqual(auth.scopes, ['tools:read']);
    });
  }

  for (const alg of ['PS256', 'ES384', 'RS512']) {
    it(`refuses a token signed with ${alg}, though its key is published`, async () => {
      await assert.rejects(verifier().verify(await token(keys[alg]!)), (error: unknown) => error instanceof TokenRejected && error.message === 'token algorithm is not allowed');
    });
  }

  it('refuses unsigned and HMAC tokens, whatever the kid', async () => {
    const good = await token(keys.ES256!);
    const [, payload, signature] = good.split('.');
    for (const alg of ['none', 'HS256']) {
      const header = Buffer.from(JSON.stringify({ alg, typ: 'at+jwt', kid: 'kid-ES256' })).toString('base64url');
      await assert.rejects(verifier().verify(`${header}.${payload}.${alg === 'none' ? '' : signature}`), TokenRejected, alg);
    }
  });

  it("refuses a token whose header names another allowed algorithm than its key's", async () => {
    const forged = await token(keys.RS256!, { kid: 'kid-ES256' });
    await assert.rejects(verifier().verify(forged), TokenRejected);
  });
});
