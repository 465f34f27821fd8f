/**
 * A person as an upstream identity provider vouched for them at sign-in: what a sign-in policy decides on, and what
 * an identity's row keeps until the next sign-in.
 */
export interface SignedInIdentity {
  /** `github`, `oidc:<provider id>` for an OpenID Connect provider configured through the admin API, or `dev`. */
  provider: string;
  /** The provider's stable id for the person: GitHub's numeric user id, the ID token's `sub`. */
  subject: string;
  /** The handle the person signs in with (GitHub login, `preferred_username`); it can change. */
  login: string | null;
  name: string | null;
  email: string | null;
  /** Only a verified email can satisfy an email-domain rule or reach a token as `email_verified: true`. */
  emailVerified: boolean;
  /** The OIDC provider's groups claim; for GitHub, the person's teams as `org/team-slug` when the sign-in asked. */
  groups: string[];
  /** GitHub organisations (logins), when the sign-in asked GitHub for them (`read:org`); null when it did not. */
  organizations: string[] | null;
}

/**
 * Development sign-in (DEV_LOGIN): the provider its identities are recorded under (the subject is the typed name),
 * and how pages name it.
 */
export const DEV_PROVIDER = 'dev';
export const DEV_PROVIDER_NAME = 'Development sign-in';
