import { Inject, Injectable } from '@nestjs/common';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../config/config.js';
import { digestsEqual, hashMatches, randomToken, sha256 } from '../common/crypto.js';
import type { HttpRequest } from '../common/http.js';
import { BrowserError, InvalidRequest, InvalidScope, OAuthError, UnsupportedResponseType } from '../common/oauth-errors.js';
import { stringParam } from '../common/oauth-body.decorator.js';
import { isLoopbackHost, parseUrl } from '../common/urls.js';
import { SCOPE_TOKEN } from '../common/validation.js';
import { Database } from '../database/database.module.js';
import { CLIENT_USE_RESOLUTION_MS, ClientsService, MetadataDocumentLimitReached } from '../registration/clients.service.js';
import { redirectUriMatches } from '../registration/client-metadata.js';
import type { ClientEntity } from '../registration/client.entity.js';
import type { ResolvedClient } from '../registration/client-metadata-document.js';
import { MetadataDocumentError, metadataDocumentRefusal } from '../registration/metadata-document-error.js';
import { ResourcesService } from '../resources/resources.service.js';
import type { ResourceServerEntity } from '../resources/resource-server.entity.js';
import { ConsentRepository } from './consent.repository.js';
import { InteractionRepository, type NewInteraction } from './interaction.repository.js';
import { InteractionHandleRepository, type VisitedInteraction } from './interaction-handle.repository.js';
import type { InteractionEntity } from './interaction.entity.js';
import { BrowserSession, interactionPath, type SessionIdentity } from './browser-session.js';
import { consentPage, signInPage, type ConsentView } from './views.js';
import { SignInChoices } from './sign-in-choices.js';
import { IDENTITY_CLAIM_WORDING } from '../resources/identity-claims.js';
import { CodeIssuer, expiredInteraction } from './code-issuer.js';
import { ProductCompletionService } from './product-completion.service.js';
import { contextOf, type RequestContext } from '../common/http.js';
import { AuditLog } from '../audit/audit-log.js';
import { providerAllowed } from '../resources/sign-in-policy.js';
import { sessionSuffices } from './sign-in-policy-gate.js';

/** What a browser step leads to: a page to show, or a redirect (to a Gatehouse page, GitHub, or the client). */
export type BrowserStep = { kind: 'page'; status: number; html: string } | { kind: 'redirect'; location: string };

const CODE_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;
/** RFC 7638 SHA-256 thumbprint, base64url: 43 characters. */
const JWK_THUMBPRINT = /^[A-Za-z0-9_-]{43}$/;
/** The return ticket of a product's completed login (randomToken()). */
const LOGIN_TICKET = /^[A-Za-z0-9_-]{43}$/;

/**
 * The authorization endpoint and the interaction that follows it: validate the request, bind it to the
 * browser, sign the user in, ask for consent when needed, and send the client its code.
 */
@Injectable()
export class AuthorizationService {
  constructor(
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    private readonly database: Database,
    private readonly clients: ClientsService,
    private readonly resources: ResourcesService,
    private readonly interactions: InteractionRepository,
    private readonly handles: InteractionHandleRepository,
    private readonly consents: ConsentRepository,
    private readonly session: BrowserSession,
    private readonly codeIssuer: CodeIssuer,
    private readonly completion: ProductCompletionService,
    private readonly audit: AuditLog,
    private readonly signInChoices: SignInChoices,
  ) {}

  /**
   * GET /authorize. The client and redirect URI are checked first: if either is wrong there is no safe place
   * to send an error, so the browser gets a page. Every later error goes back to the client's redirect URI.
   */
  async authorize(query: Record<string, unknown>, context?: RequestContext): Promise<{ step: BrowserStep; binding?: { id: string; secret: string } }> {
    const { resolved, redirectUri } = await this.checkClientAndRedirect(query, context);
    const client = resolved.client;
    let state: string | undefined;
    try {
      state = stringParam(query, 'state', 2048);
      const responseType = stringParam(query, 'response_type');
      if (responseType === undefined) throw new InvalidRequest("missing required parameter 'response_type'");
      if (responseType !== 'code') throw new UnsupportedResponseType('only response_type=code is supported');
      const challenge = stringParam(query, 'code_challenge');
      const method = stringParam(query, 'code_challenge_method');
      if (!challenge) throw new InvalidRequest('PKCE is required: send code_challenge and code_challenge_method=S256');
      if (method !== 'S256') throw new InvalidRequest('code_challenge_method must be S256 (plain is not allowed)');
      if (!CODE_CHALLENGE.test(challenge)) throw new InvalidRequest('code_challenge must be a base64url SHA-256 digest (43 characters)');
      // RFC 9449 §10: the JWK SHA-256 thumbprint (RFC 7638) of the key the client will prove at the token endpoint.
      const dpopJkt = stringParam(query, 'dpop_jkt');
      if (dpopJkt !== undefined && !JWK_THUMBPRINT.test(dpopJkt)) throw new InvalidRequest('dpop_jkt must be a base64url JWK SHA-256 thumbprint (43 characters)');
      const resource = await this.resources.resolve(stringParam(query, 'resource', 2000));
      const scopes = requestedScopes(stringParam(query, 'scope'), resource);

      const id = randomToken(24);
      const secret = randomToken();
      // With the product's own login there is nothing to show here first: the login handle goes into the same
      // INSERT and the browser straight to the product's page (the interaction page would only redirect it there).
      const login = resource.loginMethod === 'external' ? this.completion.loginOnArrival(resource) : null;
      const interaction: NewInteraction = {
        id,
        browserHash: sha256(secret),
        clientId: client.id,
        resourceId: resource.id,
        redirectUri,
        scopes,
        state: state ?? null,
        codeChallenge: challenge,
        dpopJkt: dpopJkt ?? null,
        expiresAt: new Date(Date.now() + this.config.interactionTtlSeconds * 1000),
        externalAuthHash: login?.hash ?? null,
        externalAuthExpiresAt: login?.expiresAt ?? null,
      };
      // An accepted authorization request is a use of the client (it keeps an unused registration from expiring).
      if (resolved.fetched) {
        await this.database.transaction(async (tx) => {
          // A metadata document fetched for this request is recorded only now that the request is valid.
          await this.clients.recordFetched(tx, resolved, 'insert', context);
          await this.clients.recordUse(tx, client);
          await this.interactions.insert(interaction, tx);
        });
      } else {
        // Nothing else to write: one statement, so no BEGIN/COMMIT round trips.
        const due = this.clients.useDue(client);
        const recordedAt = await this.interactions.insertAlone(interaction, due ? { resolutionSeconds: CLIENT_USE_RESOLUTION_MS / 1000 } : null);
        if (due) this.clients.useRecorded(this.database.manager, client.id, recordedAt);
      }
      return { step: { kind: 'redirect', location: login?.location ?? interactionPath(id) }, binding: { id, secret } };
    } catch (error) {
      if (error instanceof MetadataDocumentLimitReached) throw metadataDocumentLimitPage(client.id, error);
      if (error instanceof OAuthError) return { step: { kind: 'redirect', location: this.errorRedirect(redirectUri, error, state) } };
      throw error;
    }
  }

  /**
   * GET /interaction/:id — sign in, then consent: straight to the code when consent was already given, except for a
   * public client whose redirect goes to this device, which is asked to continue with one click (see claimableOnDevice).
   */
  async resume(interactionId: string, req: HttpRequest): Promise<BrowserStep> {
    // One statement reads what every step needs and stores the product page's handle when one is due.
    const secret = this.session.interactionSecret(req);
    const handles = this.completion.offerHandles();
    const session = this.session.identity(req);
    const visited = VALID_INTERACTION_ID.test(interactionId) ? await this.handles.visit(interactionId, secret ? sha256(secret) : null, handles.offered, session) : null;
    const interaction = bound(visited?.interaction ?? null, secret);
    const { client, resource } = await this.parties(interaction);
    // With the product's own login, the user is who the product said signed in for this interaction.
    if (resource.loginMethod === 'external' && !interaction.loginCompletedAt) {
      return { kind: 'redirect', location: await this.completion.beginLogin(interaction, resource, visited?.stored === 'login' ? handles.login : null) };
    }
    const signedIn = resource.loginMethod === 'external' ? null : this.signedInFor(interaction, resource, session);
    const userId = resource.loginMethod === 'external' ? interaction.userId : (signedIn?.userId ?? null);
    if (!userId) {
      return {
        kind: 'page',
        status: 200,
        html: signInPage({
          clientName: clientName(client),
          clientHost: metadataDocumentHost(client),
          resourceName: resource.name,
          logoUri: resource.logoUri,
          providers: (await this.signInChoices.forInteraction(interactionId)).filter((choice) => providerAllowed(resource.signIn, choice.id)),
          githubMissing: this.config.githubMissing,
          csrfToken: this.session.csrfToken(interactionId, secret!),
          devLogin: this.config.devLogin,
        }),
      };
    }
    // A disabled user's session (still in the browser) leads nowhere; the code exchange refuses them too.
    if (visited?.userDisabled) throw accountDisabled(resource);
    const identityProvider = resource.loginMethod === 'external' ? 'external' : (signedIn?.provider ?? null);
    // What the visit read about consent is the interaction's user's: another user signed in here is asked afresh.
    let granted = visited?.grantedScopes ?? null;
    if (interaction.userId !== userId) {
      await this.interactions.setUser(interaction.id, userId);
      granted = await this.consents.grantedScopes(userId, client.id, resource.id);
    }
    const missing = interaction.scopes.filter((scope) => !(granted ?? []).includes(scope));
    // Remembered consent answers without the person only when the code cannot go to whichever local program
    // claims to be the client; otherwise the page below (or the product's) asks for one click (RFC 8252 §8.6).
    if (missing.length === 0 && !claimableOnDevice(client, interaction.redirectUri)) return this.finish(interaction, userId, 'remembered', contextOf(req), identityProvider);
    if (resource.consentUri) {
      const productUserId = resource.loginMethod === 'external' ? (visited?.productUserId ?? null) : null;
      const stored = visited?.stored === 'consent' ? handles.consent : null;
      return { kind: 'redirect', location: await this.completion.beginConsent(interaction, resource, client, userId, productUserId, stored) };
    }

    return {
      kind: 'page',
      status: 200,
      html: consentPage({
        clientName: clientName(client),
        clientUri: client.metadata.client_uri ?? null,
        metadataDocument: client.kind === 'metadata_document' ? { url: client.id, host: metadataDocumentHost(client) ?? client.id } : null,
        runsLocally: client.metadata.redirect_uris.every(isLocalRedirect),
        redirectHost: describeRedirect(interaction.redirectUri),
        resourceName: resource.name,
        resourceUrl: resource.resource,
        logoUri: resource.logoUri,
        policyUri: resource.policyUri,
        tosUri: resource.tosUri,
        scopes: interaction.scopes,
        scopeDescriptions: resource.scopeDescriptions,
        newScopes: missing,
        formAction: `${interactionPath(interactionId)}/consent`,
        csrfToken: this.session.csrfToken(interactionId, secret!),
        signedInAs: signedIn ? await this.signedInAs(interactionId, visited?.signedIn ?? null, signedIn.provider) : null,
        identityData: resource.identityClaims.map((claim) => IDENTITY_CLAIM_WORDING[claim]),
        devLogin: this.config.devLogin,
      }),
    };
  }

  /**
   * POST /interaction/:id/sign-out — "not you?" on the consent page: the session ends, and the same authorization
   * request goes back to the sign-in page. Only from this browser's own page (CSRF token), so that no other site can
   * sign the person out.
   */
  async signOut(interactionId: string, req: HttpRequest, form: Record<string, unknown>): Promise<BrowserStep> {
    await this.loadBound(interactionId, req);
    const secret = this.session.interactionSecret(req)!;
    if (!this.session.csrfValid(interactionId, secret, form.csrf_token)) {
      throw new BrowserError(403, 'Request not accepted', 'The sign-out was not submitted from this server’s consent page (missing or invalid CSRF token).');
    }
    return { kind: 'redirect', location: interactionPath(interactionId) };
  }

  /**
   * GET /interaction/:id/login/return — the browser comes back from the product's completed login with the ticket
   * the completion answered. The login counts only here, and only in the browser bound to the interaction: the one
   * that started it (and so was sent to the product's page). A ticket brought by any other browser — someone was
   * sent the product's login link for an authorization another person started — drops that login, so nobody can
   * continue as the user who signed in; that browser is told the request was started elsewhere.
   */
  async returnFromLogin(interactionId: string, req: HttpRequest, ticket: unknown): Promise<BrowserStep> {
    const validId = VALID_INTERACTION_ID.test(interactionId);
    const secret = this.session.interactionSecret(req);
    const returnHash = typeof ticket === 'string' && LOGIN_TICKET.test(ticket) ? sha256(ticket) : null;
    const secretHash = secret ? sha256(secret) : null;
    if (validId && secretHash && returnHash && (await this.handles.acceptLogin(interactionId, secretHash, returnHash))) {
      // The login counts: go on as the interaction page would in this browser (to consent, or to the client), rather
      // than send the browser there for one more request.
      return this.resume(interactionId, req);
    }
    const interaction = validId ? await this.interactions.findById(interactionId) : null;
    const anotherBrowser = !secretHash || !interaction || !digestsEqual(secretHash, interaction.browserHash);
    if (interaction && returnHash && anotherBrowser && interaction.loginReturnHash && digestsEqual(returnHash, interaction.loginReturnHash)) {
      const { resource } = await this.parties(interaction);
      await this.audit.recordWith(this.handles.loginReturnRefusal(interaction.id, returnHash), [
        {
          type: 'login.failed',
          subject: interaction.userId,
          clientId: interaction.clientId,
          resource: resource.resource,
          request: contextOf(req),
          data: { provider: 'external', reason: 'returned_to_another_browser' },
        },
      ]);
    }
    // The start of this browser's own interaction (a spent or stale ticket, a reload): the interaction page goes on
    // from wherever it is, or says why it cannot.
    bound(interaction, secret);
    return { kind: 'redirect', location: interactionPath(interactionId) };
  }

  /** POST /interaction/:id/consent — the form's decision, checked against the CSRF token and the session. */
  async decide(interactionId: string, req: HttpRequest, form: Record<string, unknown>): Promise<BrowserStep> {
    const interaction = await this.loadBound(interactionId, req);
    const secret = this.session.interactionSecret(req)!;
    if (!this.session.csrfValid(interactionId, secret, form.csrf_token)) {
      throw new BrowserError(403, 'Request not accepted', 'The consent form was not submitted from this server’s consent page (missing or invalid CSRF token).');
    }
    const { resource } = await this.parties(interaction);
    const signedIn = resource.loginMethod === 'external' ? null : this.signedInFor(interaction, resource, this.session.identity(req));
    const userId = resource.loginMethod === 'external' ? (interaction.loginCompletedAt ? interaction.userId : null) : (signedIn?.userId ?? null);
    if (!userId || userId !== interaction.userId) {
      throw new BrowserError(403, 'Request not accepted', 'You are not signed in as the user this consent was shown to.');
    }
    const decision = form.decision;
    if (decision === 'approve') {
      // A user disabled since the page was shown gets a code the exchange refuses.
      return this.finish(interaction, userId, 'approved', contextOf(req), resource.loginMethod === 'external' ? 'external' : (signedIn?.provider ?? null));
    }
    if (decision !== 'deny') throw new BrowserError(400, 'Request not accepted', 'The consent form must say approve or deny.');
    const location = await this.codeIssuer.deny(interaction, resource, userId, { request: contextOf(req) });
    if (location === null) throw expiredInteraction();
    return { kind: 'redirect', location };
  }

  /**
   * Who is signed in for this interaction on Gatehouse's page: the session's user — when the resource's policy is
   * anything but "everyone, any provider", only if that user signed in for this very interaction (the policy was
   * checked then, see SignInService), so that a session from another resource cannot get around it.
   */
  private signedInFor(interaction: InteractionEntity, resource: ResourceServerEntity, session: SessionIdentity | null): SessionIdentity | null {
    if (session === null || sessionSuffices(resource.signIn)) return session;
    return interaction.userId === session.userId ? session : null;
  }

  /** "Signed in as …": the identity that signed in (the one used last, for a session that does not say which). */
  private async signedInAs(interactionId: string, identity: VisitedInteraction['signedIn'], provider: string | null): Promise<NonNullable<ConsentView['signedInAs']>> {
    const signedInWith = identity?.provider ?? provider;
    return {
      label: identity?.login ?? identity?.email ?? 'an unnamed account',
      providerName: signedInWith ? await this.signInChoices.providerName(signedInWith) : 'unknown provider',
      signOutAction: `${interactionPath(interactionId)}/sign-out`,
    };
  }

  /** Completes the interaction once, records consent, and issues a single-use code bound to PKCE and redirect URI. */
  private async finish(
    interaction: InteractionEntity,
    userId: string,
    how: 'approved' | 'remembered',
    request: RequestContext | undefined,
    identityProvider: string | null,
  ): Promise<BrowserStep> {
    const { resource } = await this.parties(interaction);
    const location = await this.codeIssuer.approve(interaction, resource, userId, interaction.scopes, how, { request, identityProvider });
    if (location === null) throw expiredInteraction();
    return { kind: 'redirect', location };
  }

  /** The interaction, if this browser started it and it is still open; otherwise a page saying to start again. */
  async loadBound(interactionId: string, req: HttpRequest): Promise<InteractionEntity> {
    const secret = this.session.interactionSecret(req);
    return bound(VALID_INTERACTION_ID.test(interactionId) ? await this.interactions.findById(interactionId) : null, secret);
  }

  /**
   * The interaction's resource server, when its sign-in policy lets a sign-in through `provider` (`github`,
   * `oidc:<id>`, `dev`) start; otherwise a page saying so. The sign-in page offers only those, so this answers a hand-made link.
   */
  async resourceForSignIn(interaction: InteractionEntity, provider: string, providerName: string): Promise<ResourceServerEntity> {
    const { resource } = await this.parties(interaction);
    if (!providerAllowed(resource.signIn, provider)) {
      const brand = { name: resource.name, logoUri: resource.logoUri };
      throw new BrowserError(403, 'Sign-in method not allowed', `${resource.name} does not accept sign-in with ${providerName}. Go back and choose another way to sign in.`, brand);
    }
    return resource;
  }

  private async checkClientAndRedirect(query: Record<string, unknown>, context: RequestContext | undefined): Promise<{ resolved: ResolvedClient; redirectUri: string }> {
    const clientId = optionalParam(query, 'client_id', 2000, true);
    if (!clientId) throw new BrowserError(400, 'Invalid request', 'The request has no client_id.');
    const resolved = await this.resolveClient(clientId, context);
    if (!resolved) throw new BrowserError(400, 'Unknown application', 'The application that sent you here is not registered with this server.');
    const { client } = resolved;
    // A client_credentials-only client has no redirect URI to send anyone back to (RFC 6749 §5.2 unauthorized_client).
    if (!client.metadata.grant_types.includes('authorization_code')) {
      throw new BrowserError(400, 'Unauthorized application', 'The application that sent you here is registered for machine-to-machine access only: it cannot ask you to sign in.');
    }
    const document = client.kind === 'metadata_document';
    const requested = optionalParam(query, 'redirect_uri', 2000, true);
    const registered = client.metadata.redirect_uris;
    if (requested === undefined) {
      if (registered.length === 1 && registered[0]) return { resolved, redirectUri: registered[0] };
      throw new BrowserError(400, 'Invalid request', `The request has no redirect_uri, and the application ${document ? 'lists' : 'registered'} more than one.`);
    }
    if (!redirectUriMatches(registered, requested)) {
      throw new BrowserError(
        400,
        'Invalid redirect',
        document
          ? `The redirect_uri in the request is not one of the redirect_uris in the application's client metadata document (${clientId}).`
          : 'The redirect_uri in the request is not one the application registered.',
      );
    }
    return { resolved, redirectUri: requested };
  }

  /**
   * A metadata document that cannot be used is shown to the person: there is no trusted redirect URI yet. The page
   * is the same for every reason (see MetadataDocumentError); the reason is logged and audited under the request id.
   */
  private async resolveClient(clientId: string, context: RequestContext | undefined): Promise<ResolvedClient | null> {
    try {
      return await this.clients.resolve(clientId, context);
    } catch (error) {
      if (!(error instanceof MetadataDocumentError)) throw error;
      throw new BrowserError(
        400,
        'Application not accepted',
        `The application identifies itself with the client metadata document ${clientId}, which this server could not use. If you develop this application, ${metadataDocumentRefusal(context?.requestId)}.`,
      );
    }
  }

  private async parties(interaction: InteractionEntity): Promise<{ client: ClientEntity; resource: ResourceServerEntity }> {
    const [client, resource] = await Promise.all([this.clients.find(interaction.clientId), this.resources.get(interaction.resourceId).catch(() => null)]);
    if (!client || !resource) throw expiredInteraction();
    return { client, resource };
  }

  private errorRedirect(redirectUri: string, error: OAuthError, state: string | undefined): string {
    return this.codeIssuer.errorRedirect(redirectUri, error, state);
  }
}

const VALID_INTERACTION_ID = /^[A-Za-z0-9_-]{32}$/;

/** `interaction` if it is still open and `secret` (the browser's interaction cookie) is the one it is bound to. */
function bound(interaction: InteractionEntity | null, secret: string | undefined): InteractionEntity {
  if (!interaction || interaction.completedAt || interaction.expiresAt.getTime() <= Date.now()) throw expiredInteraction();
  if (!secret || !hashMatches(secret, interaction.browserHash)) {
    throw new BrowserError(403, 'Sign-in request not recognised', 'This authorization request was started in another browser, or its cookie is missing. Return to the application and start again.');
  }
  return interaction;
}

/** Requested scopes (RFC 6749 §3.3), which must all be the resource's; none requested → its default scopes. */
export function requestedScopes(scope: string | undefined, resource: ResourceServerEntity): string[] {
  if (scope === undefined || scope.trim() === '') {
    if (resource.defaultScopes.length === 0) throw new InvalidScope(`no scope requested and ${resource.name} defines no default scopes`);
    return [...resource.defaultScopes];
  }
  const tokens = [...new Set(scope.split(' ').filter(Boolean))];
  const malformed = tokens.find((token) => !SCOPE_TOKEN.test(token));
  if (malformed !== undefined) throw new InvalidScope('scope is malformed');
  const unknown = tokens.filter((token) => !resource.scopes.includes(token));
  if (unknown.length) throw new InvalidScope(`unknown scope for ${resource.resource}: ${unknown.join(' ')}`);
  return tokens;
}

function optionalParam(query: Record<string, unknown>, name: string, maxLength: number, browser = false): string | undefined {
  try {
    return stringParam(query, name, maxLength);
  } catch (error) {
    if (browser && error instanceof OAuthError) throw new BrowserError(400, 'Invalid request', error.description);
    throw error;
  }
}

export function clientName(client: Pick<ClientEntity, 'id' | 'metadata'>): string {
  return client.metadata.client_name ?? `Unnamed application (${client.id})`;
}

/** The host of a metadata-document client's URL: who vouches for this client, as far as anyone can tell. */
export function metadataDocumentHost(client: Pick<ClientEntity, 'id' | 'kind'>): string | null {
  return client.kind === 'metadata_document' ? (parseUrl(client.id)?.host ?? null) : null;
}

/**
 * A public client redirecting to this device: any program on it can send the browser to /authorize with this
 * client's id and receive the code at its own loopback port or scheme (RFC 8252 §8.6), so remembered consent must
 * not issue a code for it unseen. A confidential client's code is useless without its secret; an https redirect
 * reaches only its host.
 */
function claimableOnDevice(client: ClientEntity, redirectUri: string): boolean {
  return client.metadata.token_endpoint_auth_method === 'none' && isLocalRedirect(redirectUri);
}

/** Loopback http, or a private-use scheme (`cursor://…`): the code goes to a program on the person's own device. */
function isLocalRedirect(redirectUri: string): boolean {
  const url = parseUrl(redirectUri);
  if (!url) return false;
  if (url.protocol === 'http:') return isLoopbackHost(url.hostname);
  return url.protocol !== 'https:';
}

function accountDisabled(resource: ResourceServerEntity): BrowserError {
  const brand = { name: resource.name, logoUri: resource.logoUri };
  return new BrowserError(403, 'Account disabled', 'An administrator of this server has disabled your account, so you cannot authorize applications.', brand);
}

export function describeRedirect(redirectUri: string): string {
  const url = parseUrl(redirectUri);
  if (!url) return redirectUri;
  return url.protocol === 'http:' || url.protocol === 'https:' ? url.host : `${url.protocol}//${url.host}`;
}

/**
 * A metadata document URL seen for the first time while CIMD_MAX_CLIENTS such clients are recorded. Shown to the
 * person rather than sent to the document's redirect URI: the client was not accepted, and the person is the one who
 * can wait or ask the administrator.
 */
function metadataDocumentLimitPage(clientId: string, error: MetadataDocumentLimitReached): BrowserError {
  return new BrowserError(
    403,
    'Application limit reached',
    `This server has reached its limit of applications identified by metadata documents (${error.maxClients}), so it cannot accept the application at ${clientId} now. ` +
      `Applications it already knows still work, and room is made as unused ones expire (${error.roomMade}). Try again later, or ask the server’s administrator.`,
  );
}
