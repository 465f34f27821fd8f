import { protectedResourceMetadataUrl } from './challenge.js';
import type { GatehouseGuardOptions } from './options.js';
import { DPOP_ALGORITHMS } from './dpop.js';

/** RFC 9728 §2. */
export interface ProtectedResourceMetadata {
  resource: string;
  authorization_servers: string[];
  scopes_supported?: string[];
  bearer_methods_supported: string[];
  /** RFC 9728 §2: the DPoP proof algorithms the guard accepts with a DPoP-bound token. */
  dpop_signing_alg_values_supported: string[];
  resource_name?: string;
}

export function protectedResourceMetadata(options: GatehouseGuardOptions): ProtectedResourceMetadata {
  const document: ProtectedResourceMetadata = {
    resource: new URL(options.resource).href,
    authorization_servers: [options.issuer],
    bearer_methods_supported: ['header'],
    dpop_signing_alg_values_supported: [...DPOP_ALGORITHMS],
  };
  if (options.scopesSupported) document.scopes_supported = options.scopesSupported;
  if (options.resourceName) document.resource_name = options.resourceName;
  return document;
}

/**
 * The paths the metadata is served at: `/.well-known/oauth-protected-resource` and the path-suffixed one for the
 * resource's path (RFC 9728 §3.1: `/.well-known/oauth-protected-resource/mcp`), which is the one challenges name.
 */
export function protectedResourceMetadataPaths(resource: string): string[] {
  return [...new Set(['/.well-known/oauth-protected-resource', new URL(protectedResourceMetadataUrl(resource)).pathname])];
}

/** Public and cacheable, and readable by browser-based MCP clients from any origin. */
export const PROTECTED_RESOURCE_METADATA_HEADERS: Readonly<Record<string, string>> = {
  'Content-Type': 'application/json',
  'Cache-Control': 'public, max-age=300',
  'Access-Control-Allow-Origin': '*',
};
