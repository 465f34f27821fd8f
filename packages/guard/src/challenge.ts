/** The RFC 9728 Protected Resource Metadata URL for a resource: the well-known segment goes between host and path. */
export function protectedResourceMetadataUrl(resource: string): string {
  const url = new URL(resource);
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  return `${url.origin}/.well-known/oauth-protected-resource${path}`;
}

export interface ChallengeParts {
  error?: 'invalid_token' | 'insufficient_scope' | 'invalid_request' | 'invalid_dpop_proof';
  errorDescription?: string;
  scope?: string[];
  resourceMetadata: string;
}

/** `WWW-Authenticate: Bearer …` per RFC 6750 §3 and RFC 9728 §5.1, values quoted and escaped. */
export function bearerChallenge(parts: ChallengeParts): string {
  const params: string[] = [];
  if (parts.error) params.push(`error="${quote(parts.error)}"`);
  if (parts.errorDescription) params.push(`error_description="${quote(parts.errorDescription)}"`);
  if (parts.scope?.length) params.push(`scope="${quote(parts.scope.join(' '))}"`);
  params.push(`resource_metadata="${quote(parts.resourceMetadata)}"`);
  return `Bearer ${params.join(', ')}`;
}

/**
 * `WWW-Authenticate: DPoP …` per RFC 9449 §7.1: as the Bearer challenge, and `algs`, the proof algorithms accepted.
 * Sent when a request used the DPoP scheme, so that the client knows what to fix.
 */
export function dpopChallenge(parts: ChallengeParts, algs: readonly string[]): string {
  return `DPoP ${bearerChallenge(parts).slice('Bearer '.length)}, algs="${quote(algs.join(' '))}"`;
}

/**
 * RFC 6750 §3 allows only %x20-21 / %x23-5B / %x5D-7E inside these quotes: `"` and `\` are not escaped but left
 * out (clients such as the MCP SDK read a value up to the next quote), and so is everything non-printable.
 */
function quote(value: string): string {
  return value.replace(/[^\x20\x21\x23-\x5B\x5D-\x7E]/g, '');
}
