import { Controller, Get, Header, Inject } from '@nestjs/common';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../config/config.js';
import { ResourcesService } from '../resources/resources.service.js';
import { AUTH_METHODS, GRANT_TYPES } from '../registration/client-metadata.js';
import { CLIENT_ASSERTION_ALGS } from '../registration/client-keys.js';
import { RateLimit } from '../rate-limit/rate-limit.decorator.js';
import { PublicCors } from '../common/cors.middleware.js';
import { FastPath } from '../common/fast-path.decorator.js';
import { DPOP_ALGS } from '../tokens/dpop.js';

/** RFC 8414 authorization server metadata. */
export interface AuthorizationServerMetadata {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  /** Absent with DYNAMIC_REGISTRATION=false. */
  registration_endpoint?: string;
  introspection_endpoint: string;
  revocation_endpoint: string;
  jwks_uri: string;
  scopes_supported: string[];
  response_types_supported: string[];
  response_modes_supported: string[];
  grant_types_supported: string[];
  token_endpoint_auth_methods_supported: string[];
  /** The algorithms a private_key_jwt client assertion may be signed with, at each endpoint that takes one. */
  token_endpoint_auth_signing_alg_values_supported: string[];
  introspection_endpoint_auth_methods_supported: string[];
  introspection_endpoint_auth_signing_alg_values_supported: string[];
  revocation_endpoint_auth_methods_supported: string[];
  revocation_endpoint_auth_signing_alg_values_supported: string[];
  code_challenge_methods_supported: string[];
  /** RFC 9449 §5.1: the algorithms a DPoP proof may be signed with. */
  dpop_signing_alg_values_supported: string[];
  authorization_response_iss_parameter_supported: boolean;
  /** draft-ietf-oauth-client-id-metadata-document §6: an https URL may be used as client_id. */
  client_id_metadata_document_supported: boolean;
  service_documentation?: string;
}

@PublicCors()
@Controller()
@RateLimit('discovery')
export class DiscoveryController {
  constructor(
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    private readonly resources: ResourcesService,
  ) {}

  /**
   * The same object until the scopes change, and without waiting while they are cached: from the RecordCache, no
   * database round trip per request while its listener is up (any resource write makes every instance forget the
   * union, and this document is then built again).
   *
   * Not served at /.well-known/openid-configuration: Gatehouse is no OpenID provider (no ID tokens, no userinfo), and
   * this document lacks what OIDC discovery requires, so strict OIDC clients would be misled. MCP clients try
   * oauth-authorization-server first (MCP authorization spec; the TypeScript SDK's buildDiscoveryUrls) and only fall
   * back to the OIDC path on a 4xx. See docs/http-api.md#endpoints.
   */
  @Get('.well-known/oauth-authorization-server')
  @Header('Cache-Control', 'public, max-age=60')
  @FastPath({ document: true })
  metadata(): AuthorizationServerMetadata | Promise<AuthorizationServerMetadata> {
    const scopes = this.resources.cachedScopes();
    if (scopes !== undefined) return this.documentFor(scopes);
    return this.resources.allScopes().then((all) => this.documentFor(all));
  }

  /** The document for this union of scopes: built again only when the cache handed out a new union. */
  private documentFor(scopes: readonly string[]): AuthorizationServerMetadata {
    if (this.document?.scopes !== scopes) this.document = { scopes, body: this.build(scopes) };
    return this.document.body;
  }

  private document: { scopes: readonly string[]; body: AuthorizationServerMetadata } | undefined;

  private build(scopes: readonly string[]): AuthorizationServerMetadata {
    const issuer = this.config.issuer;
    return {
      issuer,
      authorization_endpoint: `${issuer}/authorize`,
      token_endpoint: `${issuer}/token`,
      ...(this.config.registration.dynamicRegistration ? { registration_endpoint: `${issuer}/register` } : {}),
      introspection_endpoint: `${issuer}/introspect`,
      revocation_endpoint: `${issuer}/revoke`,
      jwks_uri: `${issuer}/.well-known/jwks.json`,
      scopes_supported: [...scopes],
      response_types_supported: ['code'],
      response_modes_supported: ['query'],
      grant_types_supported: [...GRANT_TYPES],
      token_endpoint_auth_methods_supported: [...AUTH_METHODS],
      token_endpoint_auth_signing_alg_values_supported: [...CLIENT_ASSERTION_ALGS],
      // Introspection needs a caller that can prove who it is: no `none`.
      introspection_endpoint_auth_methods_supported: AUTH_METHODS.filter((method) => method !== 'none'),
      introspection_endpoint_auth_signing_alg_values_supported: [...CLIENT_ASSERTION_ALGS],
      revocation_endpoint_auth_methods_supported: [...AUTH_METHODS],
      revocation_endpoint_auth_signing_alg_values_supported: [...CLIENT_ASSERTION_ALGS],
      code_challenge_methods_supported: ['S256'],
      dpop_signing_alg_values_supported: [...DPOP_ALGS],
      authorization_response_iss_parameter_supported: true,
      client_id_metadata_document_supported: this.config.cimd.enabled,
    };
  }
}
