import { Injectable } from '@nestjs/common';
import { safeEqual, sha256 } from '../common/crypto.js';
import { InvalidClient, InvalidRequest } from '../common/oauth-errors.js';
import type { ParsedBody } from '../common/body-parser.js';
import { contextOf, type HttpRequest, type RequestContext } from '../common/http.js';
import { memoForRequest } from '../common/request-memo.js';
import type { ClientEntity } from './client.entity.js';
import type { TokenEndpointAuthMethod } from './client-metadata.js';
import { isClientIdUrl } from './client-metadata-document.js';
import { ClientsService } from './clients.service.js';
import { MetadataDocumentError, metadataDocumentRefusal } from './metadata-document-error.js';

const BASIC_CHALLENGE = 'Basic realm="gatehouse", charset="UTF-8"';

interface PresentedCredentials {
  method: TokenEndpointAuthMethod;
  clientId: string;
  secret: string | null;
}

/**
 * Client authentication at the token endpoint (RFC 6749 §2.3, OAuth 2.1 §2.4): exactly one method per request,
 * and it must be the one the client registered. Secrets are compared as SHA-256 digests in constant time.
 * A client_id that is a metadata document URL names a public client: `none` only, resolved from its document.
 */
@Injectable()
export class ClientAuthenticator {
  constructor(private readonly clients: ClientsService) {}

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
    if (isClientIdUrl(presented.clientId) && presented.method !== 'none') {
      // Checked before fetching anything: such a client has no secret, so no secret can be right.
      throw fail(`a client identified by a metadata document URL has no secret: authenticate with none (send only client_id), not ${presented.method}`);
    }
    const client = await this.resolve(presented.clientId, contextOf(req), fail);
    if (!client) throw fail('unknown client');
    const registered = client.metadata.token_endpoint_auth_method;
    if (registered !== presented.method) {
      throw fail(`client is registered for ${registered} authentication, but the request used ${presented.method}`);
    }
    if (presented.method !== 'none') {
      if (!client.secretHash || !safeEqual(sha256(presented.secret ?? ''), client.secretHash)) throw fail('client authentication failed');
      // Checked after the secret, so that only the secret's holder learns that it expired.
      if (client.secretExpiresAt && client.secretExpiresAt.getTime() <= Date.now()) {
        throw fail('client secret expired; renew it by updating the registration at its registration_client_uri (RFC 7592)');
      }
    }
    return client;
  }

  /**
   * A freshly fetched document refreshes the recorded client (there is one if any grant can exist for it). A refused
   * document is `invalid_client` with the same description whatever the reason (see MetadataDocumentError).
   */
  private async resolve(clientId: string, context: RequestContext | undefined, fail: (description: string) => InvalidClient): Promise<ClientEntity | null> {
    try {
      const resolved = await this.clients.resolve(clientId, context);
      if (!resolved) return null;
      await this.clients.recordFetchedAlone(resolved, 'update', context);
      return resolved.client;
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
  if (header !== undefined) {
    const { id: clientId, secret } = parseBasic(header);
    if (bodySecret !== undefined) throw new InvalidRequest('use exactly one client authentication method, not Basic and client_secret together');
    if (bodyId !== undefined && bodyId !== clientId) throw new InvalidRequest('client_id in the body differs from the Basic credentials');
    return { method: 'client_secret_basic', clientId, secret };
  }
  if (bodyId === undefined) throw new InvalidClient('client authentication is required: send client_id');
  if (bodySecret !== undefined) return { method: 'client_secret_post', clientId: bodyId, secret: bodySecret };
  return { method: 'none', clientId: bodyId, secret: null };
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
