import { Inject, Injectable, Logger } from '@nestjs/common';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../config/config.js';
import { hashMatches } from '../common/crypto.js';
import { InvalidClient, InvalidRequest } from '../common/oauth-errors.js';
import type { ParsedBody } from '../common/body-parser.js';
import { contextOf, type HttpRequest, type RequestContext } from '../common/http.js';
import { memoForRequest } from '../common/request-memo.js';
import type { ClientEntity } from './client.entity.js';
import { usesClientSecret, type TokenEndpointAuthMethod } from './client-metadata.js';
import { isClientIdUrl, type ResolvedClient } from './client-metadata-document.js';
import { assertionSubject, ClientAssertionRejected, ClientAssertionVerifier, JWT_BEARER_ASSERTION_TYPE } from './client-assertion.js';
import { ClientsService } from './clients.service.js';
import { MetadataDocumentError, metadataDocumentRefusal } from './metadata-document-error.js';

const BASIC_CHALLENGE = 'Basic realm="gatehouse", charset="UTF-8"';

interface PresentedCredentials {
  method: TokenEndpointAuthMethod;
  clientId: string;
  secret: string | null;
  /** private_key_jwt: the client assertion (RFC 7523 §2.2). */
  assertion: string | null;
}

/**
 * Client authentication at the token endpoint, and at /introspect and /revoke (RFC 6749 §2.3, OAuth 2.1 §2.4):
 * exactly one method per request, and it must be the one the client registered. Secrets are compared as SHA-256
 * digests in constant time; client assertions are verified by ClientAssertionVerifier. A client_id that is a
 * metadata document URL names a client without a secret: `none` or `private_key_jwt`, resolved from its document.
 */
@Injectable()
export class ClientAuthenticator {
  private readonly logger = new Logger('ClientAuthenticator');
  private readonly issuer: string;

  constructor(
    @Inject(GATEHOUSE_CONFIG) config: GatehouseConfig,
    private readonly clients: ClientsService,
    private readonly assertions: ClientAssertionVerifier,
  ) {
    this.issuer = config.issuer;
  }

  /** Authenticates once per request: the rate limiter's earlier call and the route's share the outcome. */
  authenticate(req: HttpRequest, body: ParsedBody): Promise<ClientEntity> {
    return memoForRequest(req, 'client-authentication', () => this.authenticateOnce(req, body));
  }

  private async authenticateOnce(req: HttpRequest, body: ParsedBody): Promise<ClientEntity> {
    const presented = presentedCredentials(req, body);
    const fail = (description: string): InvalidClient => {
      const error = new InvalidClient(description);
      return presented.method === 'client_secret_basic' ? error.withChallenge(BASIC_CHALLENGE) : error;
    };
    if (isClientIdUrl(presented.clientId) && usesClientSecret(presented.method)) {
      // Checked before fetching anything: such a client has no secret, so no secret can be right.
      throw fail(`a client identified by a metadata document URL has no secret: authenticate with none (send only client_id) or private_key_jwt, not ${presented.method}`);
    }
    const context = contextOf(req);
    const resolved = await this.resolve(presented.clientId, context, fail);
    if (!resolved) throw fail('unknown client');
    const { client } = resolved;
    const registered = client.metadata.token_endpoint_auth_method;
    if (registered !== presented.method) {
      throw fail(`client is registered for ${registered} authentication, but the request used ${presented.method}`);
    }
    if (usesClientSecret(presented.method)) {
      if (!client.secretHash || !hashMatches(presented.secret ?? '', client.secretHash)) throw fail('client authentication failed');
      // Checked after the secret, so that only the secret's holder learns that it expired.
      if (client.secretExpiresAt && client.secretExpiresAt.getTime() <= Date.now()) {
        throw fail('client secret expired; renew it by updating the registration at its registration_client_uri (RFC 7592)');
      }
    } else if (presented.method === 'private_key_jwt') {
      await this.verifyAssertion(resolved, presented.assertion ?? '', req, fail);
    }
    // Only an authenticated request records what it fetched: a refused one writes nothing.
    await this.clients.recordFetchedAlone(resolved, 'update', context);
    return client;
  }

  /**
   * The caller is told only that authentication failed, whatever the reason (a wrong key, audience, lifetime, a
   * replay, an unreachable jwks_uri): the reason is logged under the request id the answer names.
   */
  private async verifyAssertion(resolved: ResolvedClient, assertion: string, req: HttpRequest, fail: (description: string) => InvalidClient): Promise<void> {
    const requestId = contextOf(req)?.requestId;
    const path = (req.url ?? '').split('?')[0] ?? '';
    try {
      await this.assertions.verify(resolved.client, assertion, `${this.issuer}${path}`);
    } catch (error) {
      if (!(error instanceof ClientAssertionRejected)) throw error;
      this.logger.warn({ msg: 'client assertion rejected', request_id: requestId, client_id: resolved.client.id, reason: error.reason, description: error.description, ...error.detail });
      throw fail(`client authentication failed; ${metadataDocumentRefusal(requestId)}`);
    }
  }

  /**
   * The client a request names; a refused metadata document is `invalid_client` with the same description whatever
   * the reason (see MetadataDocumentError). A freshly fetched document is recorded once the client authenticated.
   */
  private async resolve(clientId: string, context: RequestContext | undefined, fail: (description: string) => InvalidClient): Promise<ResolvedClient | null> {
    try {
      return await this.clients.resolve(clientId, context);
    } catch (error) {
      if (error instanceof MetadataDocumentError) throw fail(`client metadata document rejected; ${metadataDocumentRefusal(context?.requestId)}`);
      throw error;
    }
  }
}

function presentedCredentials(req: HttpRequest, body: ParsedBody): PresentedCredentials {
  const header = req.headers.authorization;
  const bodyId = bodyString(body, 'client_id');
  const bodySecret = bodyString(body, 'client_secret');
  const assertionType = bodyString(body, 'client_assertion_type');
  const assertion = bodyString(body, 'client_assertion');
  if (assertionType !== undefined || assertion !== undefined) {
    if (header !== undefined || bodySecret !== undefined) throw new InvalidRequest('use exactly one client authentication method, not a client assertion and a secret together');
    if (assertionType === undefined || assertion === undefined) throw new InvalidRequest('client_assertion and client_assertion_type are sent together');
    if (assertionType !== JWT_BEARER_ASSERTION_TYPE) throw new InvalidClient(`client_assertion_type must be ${JWT_BEARER_ASSERTION_TYPE}`);
    // RFC 7521 §4.2: client_id may be left out; the assertion's subject names the client (verified against iss,
    // the signature and the registered keys later).
    const subject = assertionSubject(assertion);
    if (subject === null) throw new InvalidClient('client authentication failed: client_assertion is not a JWT that names its client in sub');
    if (bodyId !== undefined && bodyId !== subject) throw new InvalidClient('client_id differs from the sub of client_assertion');
    return { method: 'private_key_jwt', clientId: subject, secret: null, assertion };
  }
  if (header !== undefined) {
    const { id: clientId, secret } = parseBasic(header);
    if (bodySecret !== undefined) throw new InvalidRequest('use exactly one client authentication method, not Basic and client_secret together');
    if (bodyId !== undefined && bodyId !== clientId) throw new InvalidRequest('client_id in the body differs from the Basic credentials');
    return { method: 'client_secret_basic', clientId, secret, assertion: null };
  }
  if (bodyId === undefined) throw new InvalidClient('client authentication is required: send client_id');
  if (bodySecret !== undefined) return { method: 'client_secret_post', clientId: bodyId, secret: bodySecret, assertion: null };
  return { method: 'none', clientId: bodyId, secret: null, assertion: null };
}

/** Decodes `Authorization: Basic` credentials; RFC 6749 §2.3.1 form-urlencodes id and secret before base64. */
export function parseBasic(header: string): { id: string; secret: string } {
  const malformed = () => new InvalidClient('malformed Basic authorization header').withChallenge(BASIC_CHALLENGE);
  const match = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(header.trim());
  if (!match?.[1]) throw malformed();
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw malformed();
  const id = formDecode(decoded.slice(0, colon));
  const secret = formDecode(decoded.slice(colon + 1));
  if (id === null || secret === null) throw malformed();
  return { id, secret };
}

export const BASIC_CHALLENGE_HEADER = BASIC_CHALLENGE;

function formDecode(value: string): string | null {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return null;
  }
}

function bodyString(body: ParsedBody, name: string): string | undefined {
  const value = body[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new InvalidRequest(`${name} must be a string`);
  return value;
}
