import { Inject, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../config/config.js';
import { randomToken, safeEqual, sha256 } from '../common/crypto.js';
import { BrowserError, InvalidRequest, InvalidScope, OAuthError, UnsupportedResponseType } from '../common/oauth-errors.js';
import { stringParam } from '../common/oauth-body.decorator.js';
import { parseUrl } from '../common/urls.js';
import { SCOPE_TOKEN } from '../common/validation.js';
import { Database } from '../database/database.module.js';
import { AuditLog } from '../audit/audit-log.js';
import { ClientsService } from '../registration/clients.service.js';
import { redirectUriMatches } from '../registration/client-metadata.js';
import type { ClientEntity } from '../registration/client.entity.js';
import { ResourcesService } from '../resources/resources.service.js';
import type { ResourceServerEntity } from '../resources/resource-server.entity.js';
import { AuthorizationCodeRepository } from './authorization-code.repository.js';
import { ConsentRepository } from './consent.repository.js';
import { InteractionRepository } from './interaction.repository.js';
import type { InteractionEntity } from './interaction.entity.js';
import { BrowserSession, interactionPath } from './browser-session.js';
import { consentPage, signInPage } from './views.js';

/** What a browser step leads to: a page to show, or a redirect (to a Gatehouse page, GitHub, or the client). */
export type BrowserStep = { kind: 'page'; status: number; html: string } | { kind: 'redirect'; location: string };

const CODE_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

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
    private readonly consents: ConsentRepository,
    private readonly codes: AuthorizationCodeRepository,
    private readonly session: BrowserSession,
    private readonly audit: AuditLog,
  ) {}

  /**
   * GET /authorize. The client and redirect URI are checked first: if either is wrong there is no safe place
   * to send an error, so the browser gets a page. Every later error goes back to the client's redirect URI.
   */
  async authorize(query: Record<string, unknown>): Promise<{ step: BrowserStep; binding?: { id: string; secret: string } }> {
    const { client, redirectUri } = await this.checkClientAndRedirect(query);
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
      const resource = await this.resources.resolve(stringParam(query, 'resource', 2000));
      const scopes = requestedScopes(stringParam(query, 'scope'), resource);

      const id = randomToken(24);
      const secret = randomToken();
      await this.interactions.insert({
        id,
        browserHash: sha256(secret),
        clientId: client.id,
        resourceId: resource.id,
        redirectUri,
        scopes,
        state: state ?? null,
        codeChallenge: challenge,
        expiresAt: new Date(Date.now() + this.config.interactionTtlSeconds * 1000),
      });
      return { step: { kind: 'redirect', location: interactionPath(id) }, binding: { id, secret } };
    } catch (error) {
      if (error instanceof OAuthError) return { step: { kind: 'redirect', location: this.errorRedirect(redirectUri, error, state) } };
      throw error;
    }
  }

  /** GET /interaction/:id — sign in, then consent (or straight to the code when consent was already given). */
  async resume(interactionId: string, req: Request): Promise<BrowserStep> {
    const interaction = await this.loadBound(interactionId, req);
    const { client, resource } = await this.parties(interaction);
    const userId = this.session.userId(req);
    if (!userId) {
      return {
        kind: 'page',
        status: 200,
        html: signInPage({
          clientName: clientName(client),
          resourceName: resource.name,
          githubHref: this.config.github ? `${interactionPath(interactionId)}/login/github` : null,
          githubMissing: this.config.githubMissing,
        }),
      };
    }
    if (interaction.userId !== userId) await this.interactions.setUser(interaction.id, userId);

    const granted = (await this.consents.grantedScopes(userId, client.id, resource.id)) ?? [];
    const missing = interaction.scopes.filter((scope) => !granted.includes(scope));
    if (missing.length === 0) return this.finish(interaction, userId, req, 'remembered');

    const secret = this.session.interactionSecret(req)!;
    return {
      kind: 'page',
      status: 200,
      html: consentPage({
        clientName: clientName(client),
        clientUri: client.metadata.client_uri ?? null,
        redirectHost: describeRedirect(interaction.redirectUri),
        resourceName: resource.name,
        resourceUrl: resource.resource,
        logoUri: resource.logoUri,
        policyUri: resource.policyUri,
        tosUri: resource.tosUri,
        scopes: interaction.scopes,
        newScopes: missing,
        formAction: `${interactionPath(interactionId)}/consent`,
        csrfToken: this.session.csrfToken(interactionId, secret),
      }),
    };
  }

  /** POST /interaction/:id/consent — the form's decision, checked against the CSRF token and the session. */
  async decide(interactionId: string, req: Request, form: Record<string, unknown>): Promise<BrowserStep> {
    const interaction = await this.loadBound(interactionId, req);
    const secret = this.session.interactionSecret(req)!;
    if (!this.session.csrfValid(interactionId, secret, form.csrf_token)) {
      throw new BrowserError(403, 'Request not accepted', 'The consent form was not submitted from this server’s consent page (missing or invalid CSRF token).');
    }
    const userId = this.session.userId(req);
    if (!userId || userId !== interaction.userId) {
      throw new BrowserError(403, 'Request not accepted', 'You are not signed in as the user this consent was shown to.');
    }
    const decision = form.decision;
    if (decision === 'approve') return this.finish(interaction, userId, req, 'approved');
    if (decision !== 'deny') throw new BrowserError(400, 'Request not accepted', 'The consent form must say approve or deny.');

    const { client, resource } = await this.parties(interaction);
    await this.database.transaction(async (tx) => {
      if (!(await this.interactions.complete(tx, interaction.id))) throw expiredInteraction();
      await this.audit.record(tx, { type: 'consent.denied', clientId: client.id, subject: userId, resource: resource.resource, data: { scopes: interaction.scopes } });
    });
    return { kind: 'redirect', location: this.errorRedirect(interaction.redirectUri, new OAuthError('access_denied', 'the user denied the request'), interaction.state ?? undefined) };
  }

  /** Completes the interaction once, records consent, and issues a single-use code bound to PKCE and redirect URI. */
  private async finish(interaction: InteractionEntity, userId: string, req: Request, how: 'approved' | 'remembered'): Promise<BrowserStep> {
    const { resource } = await this.parties(interaction);
    const code = randomToken();
    await this.database.transaction(async (tx) => {
      if (!(await this.interactions.complete(tx, interaction.id))) throw expiredInteraction();
      if (how === 'approved') {
        await this.consents.grant(tx, userId, interaction.clientId, interaction.resourceId, interaction.scopes);
        await this.audit.record(tx, { type: 'consent.granted', clientId: interaction.clientId, subject: userId, resource: resource.resource, data: { scopes: interaction.scopes } });
      }
      await this.codes.insert(tx, {
        codeHash: sha256(code),
        clientId: interaction.clientId,
        userId,
        resourceId: interaction.resourceId,
        scopes: interaction.scopes,
        redirectUri: interaction.redirectUri,
        codeChallenge: interaction.codeChallenge,
        expiresAt: new Date(Date.now() + this.config.authorizationCodeTtlSeconds * 1000),
      });
      await this.audit.record(tx, {
        type: 'authorization_code.issued',
        clientId: interaction.clientId,
        subject: userId,
        resource: resource.resource,
        requestId: (req as Request & { requestId?: string }).requestId ?? null,
        data: { scopes: interaction.scopes, consent: how },
      });
    });
    const location = new URL(interaction.redirectUri);
    location.searchParams.set('code', code);
    if (interaction.state !== null) location.searchParams.set('state', interaction.state);
    location.searchParams.set('iss', this.config.issuer);
    return { kind: 'redirect', location: location.href };
  }

  /** The interaction, if this browser started it and it is still open; otherwise a page saying to start again. */
  async loadBound(interactionId: string, req: Request): Promise<InteractionEntity> {
    const secret = this.session.interactionSecret(req);
    const interaction = /^[A-Za-z0-9_-]{32}$/.test(interactionId) ? await this.interactions.findById(interactionId) : null;
    if (!interaction || interaction.completedAt || interaction.expiresAt.getTime() <= Date.now()) throw expiredInteraction();
    if (!secret || !safeEqual(sha256(secret), interaction.browserHash)) {
      throw new BrowserError(403, 'Sign-in request not recognised', 'This authorization request was started in another browser, or its cookie is missing. Return to the application and start again.');
    }
    return interaction;
  }

  private async checkClientAndRedirect(query: Record<string, unknown>): Promise<{ client: ClientEntity; redirectUri: string }> {
    const clientId = optionalParam(query, 'client_id', 2000, true);
    if (!clientId) throw new BrowserError(400, 'Invalid request', 'The request has no client_id.');
    const client = await this.clients.find(clientId);
    if (!client) throw new BrowserError(400, 'Unknown application', 'The application that sent you here is not registered with this server.');
    const requested = optionalParam(query, 'redirect_uri', 2000, true);
    const registered = client.metadata.redirect_uris;
    if (requested === undefined) {
      if (registered.length === 1 && registered[0]) return { client, redirectUri: registered[0] };
      throw new BrowserError(400, 'Invalid request', 'The request has no redirect_uri, and the application registered more than one.');
    }
    if (!redirectUriMatches(registered, requested)) {
      throw new BrowserError(400, 'Invalid redirect', 'The redirect_uri in the request is not one the application registered.');
    }
    return { client, redirectUri: requested };
  }

  private async parties(interaction: InteractionEntity): Promise<{ client: ClientEntity; resource: ResourceServerEntity }> {
    const [client, resource] = await Promise.all([this.clients.find(interaction.clientId), this.resources.get(interaction.resourceId).catch(() => null)]);
    if (!client || !resource) throw expiredInteraction();
    return { client, resource };
  }

  private errorRedirect(redirectUri: string, error: OAuthError, state: string | undefined): string {
    const location = new URL(redirectUri);
    location.searchParams.set('error', error.code);
    location.searchParams.set('error_description', error.description);
    if (state !== undefined) location.searchParams.set('state', state);
    location.searchParams.set('iss', this.config.issuer);
    return location.href;
  }
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

function clientName(client: ClientEntity): string {
  return client.metadata.client_name ?? `Unnamed application (${client.id})`;
}

function describeRedirect(redirectUri: string): string {
  const url = parseUrl(redirectUri);
  if (!url) return redirectUri;
  return url.protocol === 'http:' || url.protocol === 'https:' ? url.host : `${url.protocol}//${url.host}`;
}

function expiredInteraction(): BrowserError {
  return new BrowserError(400, 'Sign-in request expired', 'This authorization request has expired or was already completed. Return to the application and start again.');
}
