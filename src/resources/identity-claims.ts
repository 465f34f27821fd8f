/**
 * The identity claims a resource server may opt into (RFC 9068 §2.2.3.1): what its access tokens and introspection
 * answers say about the person, beyond `sub`. `idp` names the provider that signed the person in (`github`,
 * `oidc:<provider id>`, or `external` for a product's own user).
 */
export const IDENTITY_CLAIMS = ['preferred_username', 'name', 'email', 'email_verified', 'groups', 'idp'] as const;

export type IdentityClaimName = (typeof IDENTITY_CLAIMS)[number];

export interface IdentityClaims {
  preferred_username?: string;
  name?: string;
  email?: string;
  email_verified?: boolean;
  groups?: string[];
  idp?: string;
}

export function isIdentityClaimName(value: unknown): value is IdentityClaimName {
  return typeof value === 'string' && (IDENTITY_CLAIMS as readonly string[]).includes(value);
}

/** The identity claims in `source` (a token's payload, a grant's snapshot), each only when it has its type. */
export function pickIdentityClaims(value: unknown): IdentityClaims {
  const claims: IdentityClaims = {};
  if (typeof value !== 'object' || value === null) return claims;
  const source = value as Record<string, unknown>;
  for (const name of ['preferred_username', 'name', 'email', 'idp'] as const) {
    const value = source[name];
    if (typeof value === 'string') claims[name] = value;
  }
  if (typeof source.email_verified === 'boolean') claims.email_verified = source.email_verified;
  if (Array.isArray(source.groups) && source.groups.every((group) => typeof group === 'string')) claims.groups = [...(source.groups as string[])];
  return claims;
}

/** How the consent page names each claim: "<client> will also receive: your email address, …". */
export const IDENTITY_CLAIM_WORDING: Record<IdentityClaimName, string> = {
  preferred_username: 'your username',
  name: 'your name',
  email: 'your email address',
  email_verified: 'whether your email address is verified',
  groups: 'the groups you belong to',
  idp: 'which service you signed in with',
};
