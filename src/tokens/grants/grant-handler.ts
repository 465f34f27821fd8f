import type { HttpRequest } from '../../common/http.js';
import type { ParsedBody } from '../../common/body-parser.js';
import type { ClientEntity } from '../../registration/client.entity.js';
import type { DpopProof } from '../dpop.js';

/** The token endpoint's success body (RFC 6749 §5.1). */
export interface TokenResponse {
  access_token: string;
  /** DPoP when the access token is bound to the client's key (RFC 9449 §5). */
  token_type: 'Bearer' | 'DPoP';
  expires_in: number;
  refresh_token?: string;
  scope: string;
}

export interface GrantContext {
  client: ClientEntity;
  params: ParsedBody;
  req: HttpRequest;
  /** The request's DPoP proof, checked and its jti spent (RFC 9449 §4.3); absent without one. */
  dpop?: DpopProof;
}

/** One class per grant type, registered by `grant_type` (as node-oidc-provider's actions/grants). */
export interface GrantHandler {
  readonly grantType: string;
  handle(context: GrantContext): Promise<TokenResponse>;
}

export const GRANT_HANDLERS = Symbol('GRANT_HANDLERS');
