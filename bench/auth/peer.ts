import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { errors } from 'oidc-provider';
import { ADAPTER_SCHEMA, postgresAdapter } from './pg-adapter.js';
import type { PeerConfig } from './protocol.js';
import { serveChild } from '../child.js';

/**
 * The peer: node-oidc-provider (panva) on loopback, configured as close to Gatehouse as it goes — a resource
 * indicator whose access tokens are ES256 JWTs (RFC 9068), PKCE required (S256), refresh tokens issued to clients
 * registered for them and rotated on every use, introspection and revocation on, one confidential client with
 * client_secret_basic — persisting to PostgreSQL through the adapter in pg-adapter.ts (pool of 10, like Gatehouse's),
 * or, without a database URL, to oidc-provider's own in-memory adapter, as its quick start runs it.
 *
 * oidc-provider refuses to introspect JWT access tokens (they are meant to be verified locally), so a second
 * resource indicator issues opaque access tokens for the introspection scenario.
 *
 * Its interaction URL signs a new account in and grants the requested scopes programmatically, the pattern
 * oidc-provider's documentation shows (interactionDetails → Grant → interactionFinished).
 */
const config = JSON.parse(process.env.BENCH_PEER ?? '{}') as PeerConfig;
const SCOPE = config.scopes.join(' ');
const TTL = { AccessToken: 3600, AuthorizationCode: 60, IdToken: 3600, RefreshToken: 30 * 86_400, Interaction: 600, Session: 12 * 3600, Grant: 30 * 86_400 };

async function start(): Promise<number> {
  let adapter: ReturnType<typeof postgresAdapter> | undefined;
  if (config.databaseUrl) {
    // As Gatehouse's pool: 10 connections, idle ones kept for its default DATABASE_POOL_IDLE_S, so that neither side
    // reconnects at the start of each measurement.
    const pool = new pg.Pool({ connectionString: config.databaseUrl, max: 10, idleTimeoutMillis: 300_000 });
    await pool.query(ADAPTER_SCHEMA);
    adapter = postgresAdapter(pool);
  }

  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const signingKey = { ...(await exportJWK(privateKey)), kid: `peer-${randomUUID()}`, alg: 'ES256', use: 'sig' };

  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  const resourceServer = (format: 'jwt' | 'opaque') => ({
    scope: SCOPE,
    audience: format === 'jwt' ? config.resource : config.opaqueResource,
    accessTokenTTL: TTL.AccessToken,
    accessTokenFormat: format,
    ...(format === 'jwt' ? { jwt: { sign: { alg: 'ES256' } } } : {}),
  });

  const provider = new Provider(`http://127.0.0.1:${port}`, {
    ...(adapter ? { adapter } : {}),
    clients: [
      {
        client_id: config.client.id,
        client_secret: config.client.secret,
        redirect_uris: [config.client.redirectUri],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
        id_token_signed_response_alg: 'ES256',
      },
    ],
    clientDefaults: { id_token_signed_response_alg: 'ES256' },
    jwks: { keys: [signingKey] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    features: {
      devInteractions: { enabled: false },
      userinfo: { enabled: false },
      introspection: {
        enabled: true,
        // The default policy, without its "you should change this" warning: a confidential client may ask.
        allowedPolicy: async (_ctx: unknown, client: { clientAuthMethod: string; clientId: string }, token: { clientId: string }) =>
          client.clientAuthMethod !== 'none' || token.clientId === client.clientId,
      },
      revocation: {
        enabled: true,
        allowedPolicy: async (_ctx: unknown, client: { clientId: string }, token: { clientId: string }) => token.clientId === client.clientId,
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (_ctx: unknown, _client: unknown, oneOf?: string[]) => oneOf ?? config.resource,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx: unknown, indicator: string) => {
          if (indicator === config.resource) return resourceServer('jwt');
          if (indicator === config.opaqueResource) return resourceServer('opaque');
          throw new errors.InvalidTarget();
        },
      },
    },
    pkce: { required: () => true },
    rotateRefreshToken: true,
    // Gatehouse's refresh tokens outlive the browser session; by default oidc-provider's die with it (without
    // offline_access) and every refresh then also looks the session up.
    expiresWithSession: async () => false,
    issueRefreshToken: async (_ctx: unknown, client: { grantTypeAllowed(type: string): boolean }) => client.grantTypeAllowed('refresh_token'),
    ttl: TTL,
    findAccount: async (_ctx: unknown, sub: string) => ({ accountId: sub, claims: async () => ({ sub }) }),
    interactions: { url: async (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    renderError: async (ctx: { type: string; body: unknown }, out: unknown) => {
      ctx.type = 'json';
      ctx.body = out;
    },
  });
  provider.on('server_error', (_ctx: unknown, error: unknown) => console.error('peer server_error', error));

  const callback = provider.callback();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (req.url?.startsWith('/interaction/')) {
      interaction(provider, req, res).catch((error: unknown) => {
        console.error('peer interaction failed', error);
        res.writeHead(500, { 'content-type': 'text/plain' }).end(String(error));
      });
      return;
    }
    callback(req, res);
  });
  return port;
}

/** The interaction URL: the login prompt signs a new account in, the consent prompt grants what was asked. */
async function interaction(provider: Provider, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params } = details;
  if (prompt.name === 'login') {
    await provider.interactionFinished(req, res, { login: { accountId: `bench-user-${randomUUID()}` } }, { mergeWithLastSubmission: false });
    return;
  }
  if (prompt.name === 'consent') {
    const accountId = details.session?.accountId;
    if (!accountId) throw new Error('consent prompt without a signed-in account');
    const existing = details.grantId ? await provider.Grant.find(details.grantId) : undefined;
    const grant = existing ?? new provider.Grant({ accountId, clientId: String(params.client_id) });
    const missing = prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: existing ? {} : { grantId } }, { mergeWithLastSubmission: true });
    return;
  }
  throw new Error(`unexpected prompt ${prompt.name}`);
}

serveChild(start);
