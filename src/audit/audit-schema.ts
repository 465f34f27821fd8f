import type { AuditActorKind, AuditEventData, AuditOutcome } from './audit-event.entity.js';

export const AUDIT_SCHEMA_VERSION = 1;

/** Every kind of event; AUDIT_CATALOGUE below says what each one means. */
export type AuditEventType =
  | 'client.registered'
  | 'client.updated'
  | 'client.deleted'
  | 'client.expired'
  | 'client.metadata_fetched'
  | 'client.metadata_rejected'
  | 'login.succeeded'
  | 'login.failed'
  | 'login.refused'
  | 'consent.granted'
  | 'consent.denied'
  | 'consent.withdrawn'
  | 'authorization_code.issued'
  | 'authorization_code.replayed'
  | 'token.issued'
  | 'token.refreshed'
  | 'token.refresh_retried'
  | 'token.revoked'
  | 'token.introspected'
  | 'refresh_token.reuse_detected'
  | 'grant.revoked'
  | 'admin.resource_created'
  | 'admin.resource_updated'
  | 'admin.resource_deleted'
  | 'admin.resource_secret_rotated'
  | 'admin.identity_provider_created'
  | 'admin.identity_provider_updated'
  | 'admin.identity_provider_deleted'
  | 'admin.client_created'
  | 'admin.client_deleted'
  | 'admin.grants_revoked'
  | 'admin.client_credentials_allowed'
  | 'admin.client_credentials_removed'
  | 'admin.user_disabled'
  | 'admin.user_enabled'
  | 'admin.initial_access_token_created'
  | 'admin.initial_access_token_revoked'
  | 'operator.granted'
  | 'operator.revoked'
  | 'signing_key.rotated'
  | 'rate_limit.exceeded'
  | 'audit.exported';

/**
 * An audit event as every consumer sees it (query API, SSE stream, webhooks, log lines, hooks): schema 1.
 * Fields are only ever added within a schema version; a rename or a change of meaning is a new version.
 */
export interface AuditEventV1 {
  schema: 1;
  /** Position in the outbox: read only once every smaller seq is final, so a cursor skips nothing. Cursors and the stream's `id:` are seqs. */
  seq: number;
  /** Unique per event; webhooks send it as the idempotency key. */
  id: string;
  type: AuditEventType;
  /** ISO 8601, when the change was made. Order by `seq`, not by time. */
  time: string;
  actor: AuditActor;
  /** The Gatehouse user (`sub`) the event is about. */
  subject: string | null;
  client_id: string | null;
  /** The resource server (its canonical URL, the tokens' `aud`). */
  resource: string | null;
  scopes: string[] | null;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  outcome: AuditOutcome;
  /** Type-specific details: ids (grant_id, jti, kid…), names, counts and flags. Never a token, code or secret. */
  data: AuditEventData;
}

export interface AuditActor {
  kind: AuditActorKind;
  /**
   * user: the subject (also a console operator's change: the operator's user id); client: the client_id; resource: the
   * resource URL; admin: `api`, `cli`, or `config` (a role CONSOLE_ADMINS granted); system: null.
   */
  id: string | null;
}

/**
 * How the actor of each type is found when the caller does not say: a fixed kind, or
 * `caller` (data.by: the client or resource server that called /introspect or /revoke),
 * `grant_type` (a mint is done by a resource server's backend, other grants by the client),
 * `revocation_reason` (grant.revoked: an administrator, the caller of /revoke, the user on their account page, or Gatehouse
 * on replay or reuse).
 */
type ActorRule = AuditActorKind | 'caller' | 'grant_type' | 'revocation_reason';

interface CatalogueEntry {
  description: string;
  actor: ActorRule;
  outcome: AuditOutcome;
}

/** Every event type, what it means, and its defaults. A type missing here does not compile. */
export const AUDIT_CATALOGUE: Record<AuditEventType, CatalogueEntry> = {
  'client.registered': { description: 'A client registered itself (RFC 7591).', actor: 'client', outcome: 'success' },
  'client.updated': { description: 'A client changed its registration (RFC 7592).', actor: 'client', outcome: 'success' },
  'client.deleted': { description: 'A client deleted its registration (RFC 7592).', actor: 'client', outcome: 'success' },
  'client.expired': {
    description: 'A dynamic or metadata-document client (data.kind) was deleted by Gatehouse (data.reason: never_used, never_issued_tokens, idle, or superseded by an identical registration, data.superseded_by).',
    actor: 'system',
    outcome: 'success',
  },
  'client.metadata_fetched': { description: 'A client metadata document was fetched and recorded.', actor: 'client', outcome: 'success' },
  'client.metadata_rejected': { description: 'A client metadata document could not be used (data.reason).', actor: 'client', outcome: 'failure' },
  'login.succeeded': { description: 'A user signed in (data.provider).', actor: 'user', outcome: 'success' },
  'login.failed': { description: 'A sign-in was refused, cancelled or failed (data.provider, data.reason).', actor: 'user', outcome: 'failure' },
  'login.refused': {
    description:
      "A resource server's sign-in policy did not admit the person who signed in, so the authorization request ended with access_denied and no user was created (data.provider; data.login, the provider's login or email; data.reason: provider_not_allowed, no_rules or no_rule_matched).",
    actor: 'user',
    outcome: 'denied',
  },
  'consent.granted': { description: 'A user approved a client for scopes of a resource.', actor: 'user', outcome: 'success' },
  'consent.denied': { description: 'A user denied a client.', actor: 'user', outcome: 'denied' },
  'consent.withdrawn': {
    description: 'A user withdrew what they had allowed a client for a resource on their account page, or a console operator withdrew it for them (actor: the operator); the client must ask again (data.scopes: what was allowed, data.grant_id: the grant revoked with it).',
    actor: 'user',
    outcome: 'success',
  },
  'authorization_code.issued': { description: 'An authorization code was issued after sign-in and consent.', actor: 'user', outcome: 'success' },
  'authorization_code.replayed': { description: 'A used authorization code was presented again; its grant is revoked.', actor: 'client', outcome: 'failure' },
  'token.issued': { description: 'A new grant and its first tokens (data.grant_type: authorization_code or mint), or an access token for a client itself (client_credentials: no subject, data.grant_id the client credentials grant).', actor: 'grant_type', outcome: 'success' },
  'token.refreshed': { description: 'A refresh token was rotated and a new access token issued.', actor: 'client', outcome: 'success' },
  'token.refresh_retried': {
    description: 'A refresh token rotated moments ago was presented again by its client (a retry): another successor and access token were issued, nothing revoked (data.retries).',
    actor: 'client',
    outcome: 'success',
  },
  'token.revoked': { description: 'A token was revoked at /revoke (data.token_type, data.jti for access tokens).', actor: 'caller', outcome: 'success' },
  'token.introspected': { description: 'A token was introspected; outcome active or inactive (data.reason).', actor: 'caller', outcome: 'active' },
  'refresh_token.reuse_detected': { description: 'A rotated refresh token was presented again; its grant is revoked.', actor: 'client', outcome: 'failure' },
  'grant.revoked': { description: 'A grant and every token from it were revoked (data.reason).', actor: 'revocation_reason', outcome: 'success' },
  'admin.resource_created': { description: 'A resource server was registered.', actor: 'admin', outcome: 'success' },
  'admin.resource_updated': { description: 'A resource server was changed.', actor: 'admin', outcome: 'success' },
  'admin.resource_deleted': { description: 'A resource server was deleted with its grants.', actor: 'admin', outcome: 'success' },
  'admin.resource_secret_rotated': {
    description:
      "A resource server's registration secret was rotated (data.resource_id, data.overlap_seconds, data.previous_secret_expires_at: until when the old secret stays valid, null when revoked at once).",
    actor: 'admin',
    outcome: 'success',
  },
  'admin.identity_provider_created': {
    description: 'An OpenID Connect provider was configured for sign-in (data.identity_provider_id, data.issuer).',
    actor: 'admin',
    outcome: 'success',
  },
  'admin.identity_provider_updated': { description: 'An OpenID Connect provider was changed (data.identity_provider_id, data.fields: the fields sent).', actor: 'admin', outcome: 'success' },
  'admin.identity_provider_deleted': { description: 'An OpenID Connect provider was removed (data.identity_provider_id, data.issuer).', actor: 'admin', outcome: 'success' },
  'admin.client_created': { description: 'A client was pre-registered by an administrator.', actor: 'admin', outcome: 'success' },
  'admin.client_deleted': { description: 'A client was deleted by an administrator.', actor: 'admin', outcome: 'success' },
  'admin.client_credentials_allowed': {
    description:
      'A confidential client was allowed the client credentials grant for a resource server, or its allowed scopes changed (data.resource_id, data.grant_id: the grant_id of its tokens, data.scopes, data.previous_scopes: null when new; a new grant_id when scopes were removed, which ends the tokens issued before).',
    actor: 'admin',
    outcome: 'success',
  },
  'admin.client_credentials_removed': {
    description: "A client's client credentials grant for a resource server was removed; the access tokens issued under it are no longer active (data.resource_id, data.grant_id, data.scopes).",
    actor: 'admin',
    outcome: 'success',
  },
  'admin.grants_revoked': {
    description: 'Every live grant of a user or client was revoked and the consents they gave (or were given) forgotten (data.revoked, data.consents_cleared).',
    actor: 'admin',
    outcome: 'success',
  },
  'admin.user_disabled': {
    description: 'A user was disabled: sign-in, tokens and refresh refused; every live grant revoked (each with grant.revoked, reason user_disabled) and every consent forgotten (data.grants_revoked, data.consents_cleared).',
    actor: 'admin',
    outcome: 'success',
  },
  'admin.user_enabled': { description: 'A disabled user was enabled again; what disabling revoked stays revoked.', actor: 'admin', outcome: 'success' },
  'admin.initial_access_token_created': { description: 'An initial access token for dynamic registration was created (data.initial_access_token_id).', actor: 'admin', outcome: 'success' },
  'admin.initial_access_token_revoked': { description: 'An initial access token was revoked (data.initial_access_token_id).', actor: 'admin', outcome: 'success' },
  'operator.granted': {
    description:
      'A user (the subject) was given a console role or had it changed (data.role: admin or viewer; data.previous_role: the role before, or null). Actor admin `config` when CONSOLE_ADMINS named them.',
    actor: 'admin',
    outcome: 'success',
  },
  'operator.revoked': { description: "A user's console role was taken away (data.role: the role they had).", actor: 'admin', outcome: 'success' },
  'signing_key.rotated': {
    description:
      'The signing keys were rotated (data.retired, data.active, data.next kids; data.alg the active key signs with); by an administrator, by a console operator (actor user), or by Gatehouse (actor system) on schedule (KEY_ROTATION_DAYS) or at the boot after SIGNING_ALG changed (then data.previous_alg).',
    actor: 'admin',
    outcome: 'success',
  },
  'rate_limit.exceeded': { description: 'A caller went over a rate limit: once per tracker, policy and block (data.policy, data.tracker, data.retry_after).', actor: 'client', outcome: 'failure' },
  'audit.exported': {
    description:
      'A console operator (actor user) downloaded audit events as JSON lines (data.filter_type, filter_client_id, filter_sub, filter_resource, filter_outcome, since, until: the filters, null when not set; data.count: events sent; data.truncated: the export stopped at its limit; data.complete: false when the download was cut off).',
    actor: 'user',
    outcome: 'success',
  },
};

export const AUDIT_EVENT_TYPES = Object.keys(AUDIT_CATALOGUE) as AuditEventType[];

export function isAuditEventType(value: string): value is AuditEventType {
  return Object.hasOwn(AUDIT_CATALOGUE, value);
}

interface ActorFacts {
  clientId: string | null;
  subject: string | null;
  resource: string | null;
  data: AuditEventData;
}

/** The actor an event names when its recorder does not say; `inRequest` tells the admin API from the CLI. */
export function defaultActor(type: AuditEventType, facts: ActorFacts, inRequest: boolean): AuditActor {
  const rule = AUDIT_CATALOGUE[type].actor;
  const of = (kind: AuditActorKind): AuditActor => {
    switch (kind) {
      case 'user':
        return { kind, id: facts.subject };
      case 'client':
        return { kind, id: facts.clientId };
      case 'resource':
        return { kind, id: facts.resource };
      case 'admin':
        return { kind, id: inRequest ? 'api' : 'cli' };
      case 'system':
        return { kind, id: null };
    }
  };
  switch (rule) {
    case 'caller':
      return of(facts.data.by === 'resource' ? 'resource' : 'client');
    case 'grant_type':
      return of(facts.data.grant_type === 'mint' ? 'resource' : 'client');
    case 'revocation_reason': {
      const reason = String(facts.data.reason ?? '');
      if (reason === 'revoked_by_admin' || reason === 'user_disabled') return of('admin');
      if (reason === 'revoked_by_client') return of('client');
      if (reason === 'revoked_by_resource') return of('resource');
      if (reason === 'revoked_by_user') return of('user');
      return of('system');
    }
    default:
      return of(rule);
  }
}

export function defaultOutcome(type: AuditEventType): AuditOutcome {
  return AUDIT_CATALOGUE[type].outcome;
}

/** Values that are Gatehouse secrets by their prefix (client secret, registration token and secret, refresh token, initial access token), or JWTs. */
const SECRET_VALUE = /(?:^|[^A-Za-z0-9_-])(?:gh_(?:cs|rat|rs|rt|iat)_[A-Za-z0-9_-]{20,}|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*)/;

/**
 * Defence in depth: recorders pass ids only, but a value that looks like a token or secret is replaced before it
 * reaches the outbox (and so every sink). Returns the names of the fields it replaced.
 */
export function scrubSecrets(data: AuditEventData): { data: AuditEventData; redacted: string[] | null } {
  const redacted: string[] = [];
  const out: AuditEventData = {};
  for (const [key, value] of Object.entries(data)) {
    if (typeof value === 'string' && SECRET_VALUE.test(value)) {
      out[key] = '[redacted]';
      redacted.push(key);
    } else if (Array.isArray(value) && value.some((item) => SECRET_VALUE.test(item))) {
      out[key] = value.map((item) => (SECRET_VALUE.test(item) ? '[redacted]' : item));
      redacted.push(key);
    } else {
      out[key] = value;
    }
  }
  return { data: out, redacted: redacted.length ? redacted : null };
}

export function looksSecret(value: string): boolean {
  return SECRET_VALUE.test(value);
}
