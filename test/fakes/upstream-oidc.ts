import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes, randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';

/** A person at the upstream provider: the claims its ID tokens carry. */
export interface UpstreamUser {
  sub: string;
  email: string;
  email_verified: boolean;
  preferred_username: string;
  name: string;
  groups: string[];
}

export interface UpstreamClient {
  client_id: string;
  client_secret: string;
  redirect_uris: string[];
}

/**
 * A real OpenID Connect provider (panva's oidc-provider) on loopback, standing in for a company's identity
 * provider. Its interaction URL signs `nextUser` in and grants what was asked, with no page, the pattern
 * oidc-provider's documentation shows; `denyNext` makes the next one answer `access_denied` instead (the person
 * cancelled). Claims are put in the ID token (not only at userinfo), as Okta and Google do for these scopes.
 */
export class UpstreamOidc {
  nextUser: UpstreamUser = newUpstreamUser();
  denyNext = false;
  issuer = '';
  private server: Server | null = null;
  private readonly users = new Map<string, UpstreamUser>();

  constructor(private readonly clients: UpstreamClient[]) {}

  async start(): Promise<this> {
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    const signingKey = { ...(await exportJWK(privateKey)), kid: `upstream-${randomUUID()}`, alg: 'RS256', use: 'sig' };
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    this.issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const provider = new Provider(this.issuer, {
      clients: this.clients.map((client) => ({ ...client, grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic' })),
      jwks: { keys: [signingKey] },
      cookies: { keys: [randomBytes(32).toString('base64url')] },
      features: { devInteractions: { enabled: false } },
      pkce: { required: () => true },
      scopes: ['openid', 'email', 'profile', 'groups'],
      claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'preferred_username'], groups: ['groups'] },
      conformIdTokenClaims: false,
      ttl: { Interaction: 600, Session: 3600, Grant: 3600, AccessToken: 600, IdToken: 600, AuthorizationCode: 60 },
      findAccount: async (_ctx: unknown, sub: string) => {
        const user = this.users.get(sub);
        return user ? { accountId: sub, claims: async () => ({ ...user }) } : undefined;
      },
      interactions: { url: async (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
      renderError: async (ctx: { type: string; body: unknown }, out: unknown) => {
        ctx.type = 'json';
        ctx.body = out;
      },
    });
    provider.on('server_error', (_ctx: unknown, error: unknown) => console.error('upstream oidc server_error', error));
    const callback = provider.callback();
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      if (req.url?.startsWith('/interaction/')) {
        this.interaction(provider, req, res).catch((error: unknown) => {
          console.error('upstream interaction failed', error);
          res.writeHead(500, { 'content-type': 'text/plain' }).end(String(error));
        });
        return;
      }
      callback(req, res);
    });
    return this;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    server?.closeAllConnections();
    await new Promise<void>((resolve) => server?.close(() => resolve()) ?? resolve());
  }

  private async interaction(provider: Provider, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const details = await provider.interactionDetails(req, res);
    const { prompt, params } = details;
    if (this.denyNext) {
      this.denyNext = false;
      await provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'The person cancelled the sign-in' }, { mergeWithLastSubmission: false });
      return;
    }
    if (prompt.name === 'login') {
      const user = this.nextUser;
      this.users.set(user.sub, user);
      await provider.interactionFinished(req, res, { login: { accountId: user.sub } }, { mergeWithLastSubmission: false });
      return;
    }
    if (prompt.name === 'consent') {
      const accountId = details.session?.accountId;
      if (!accountId) throw new Error('consent prompt without a signed-in account');
      const existing = details.grantId ? await provider.Grant.find(details.grantId) : undefined;
      const grant = existing ?? new provider.Grant({ accountId, clientId: String(params.client_id) });
      const missing = prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[] };
      if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
      if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
      const grantId = await grant.save();
      await provider.interactionFinished(req, res, { consent: existing ? {} : { grantId } }, { mergeWithLastSubmission: true });
      return;
    }
    throw new Error(`unexpected prompt ${prompt.name}`);
  }
}

/** A new person at the upstream provider, with a verified email unless told otherwise. */
export function newUpstreamUser(overrides: Partial<UpstreamUser> = {}): UpstreamUser {
  const id = randomBytes(4).toString('hex');
  return {
    sub: `upstream-${id}`,
    email: `person-${id}@corp.example`,
    email_verified: true,
    preferred_username: `person-${id}`,
    name: `Person ${id}`,
    groups: ['engineering', 'on-call'],
    ...overrides,
  };
}
