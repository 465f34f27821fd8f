/**
 * The admin API's OpenAPI 3.1 description, served at /admin/openapi.json. Written by hand next to the routes it
 * describes; a test checks that every admin route is in it and every path in it is a route.
 */

// Written out, as the identity claims below are: audit/ and resources/ import admin/ (its guard), not the other way
// round. test/e2e/admin-api checks that these agree with AUDIT_OUTCOMES and the resource DTO's overlap bounds.
const AUDIT_OUTCOMES = ['success', 'failure', 'denied', 'active', 'inactive'];
const DEFAULT_SECRET_OVERLAP_SECONDS = 86_400;
const MAX_SECRET_OVERLAP_SECONDS = 2_592_000;

const resourceFields = {
  name: { type: 'string', minLength: 1, maxLength: 200 },
  resource: { type: 'string', format: 'uri', description: 'Canonical URL of the MCP server (RFC 8707); the aud of its tokens.' },
  scopes: { type: 'array', items: { type: 'string' }, minItems: 1, maxItems: 100 },
  scope_descriptions: {
    type: 'object',
    additionalProperties: { type: 'string', minLength: 1, maxLength: 200 },
    default: {},
    description:
      'A short description per scope, keyed by scope (each key must be in scopes), shown on the consent and account pages beside the scope; a scope without one shows its code. ' +
      'No control, line-break or bidirectional formatting characters. On update: replaces the whole map; changing scopes alone drops the descriptions of removed scopes.',
  },
  default_scopes: { type: 'array', items: { type: 'string' }, description: 'Used when a client asks for no scope; a subset of scopes.' },
  access_token_ttl: { type: 'integer', minimum: 60, maximum: 86400, default: 3600 },
  refresh_token_ttl: { type: 'integer', minimum: 300, maximum: 31536000, default: 2592000 },
  branding: {
    type: 'object',
    additionalProperties: false,
    properties: {
      logo_uri: { type: 'string', format: 'uri' },
      policy_uri: { type: 'string', format: 'uri' },
      tos_uri: { type: 'string', format: 'uri' },
    },
  },
  is_default: { type: 'boolean', description: 'Used for requests that send no resource parameter.' },
  login_method: {
    enum: ['gatehouse', 'external', 'github'],
    default: 'gatehouse',
    description: "gatehouse: Gatehouse's sign-in page; external: users sign in on the product's page at login_uri; github: the earlier name of gatehouse",
  },
  login_uri: { type: ['string', 'null'], format: 'uri', description: 'Required with login_method external; receives ?external_auth_id=…' },
  consent_uri: { type: ['string', 'null'], format: 'uri', description: 'A product-hosted consent page; receives ?interaction_id=… and the request details' },
  sign_in: {
    type: 'object',
    additionalProperties: false,
    required: ['allow'],
    description:
      'Who may sign in through Gatehouse\'s page (login_method gatehouse; external products decide themselves). A person passes when their provider is listed and ANY rule matches. Default for a new resource server: {"providers": null, "allow": {}}, which admits nobody.',
    properties: {
      providers: { type: ['array', 'null'], minItems: 1, items: { type: 'string', pattern: '^(github|dev|oidc:[A-Za-z0-9._-]{1,100})$' }, description: 'null: every configured provider (dev: development sign-in, only while DEV_LOGIN is on)' },
      allow: {
        oneOf: [
          { const: 'everyone' },
          {
            type: 'object',
            additionalProperties: false,
            properties: {
              github_users: { type: 'array', items: { type: 'string' }, description: 'GitHub logins, case-insensitive' },
              github_organizations: { type: 'array', items: { type: 'string' }, description: 'GitHub organisations, case-insensitive (GitHub is asked for read:org)' },
              github_teams: { type: 'array', items: { type: 'string' }, description: 'org/team-slug, case-insensitive (GitHub is asked for read:org)' },
              email_domains: { type: 'array', items: { type: 'string' }, description: 'Domains of a verified email: acme.com exactly, *.acme.com its subdomains' },
              oidc_groups: { type: 'array', items: { type: 'string' }, description: "An OpenID Connect provider's groups, exactly" },
            },
          },
        ],
      },
    },
  },
  identity_claims: {
    type: 'array',
    // IDENTITY_CLAIMS, written out: resources/ imports admin/, not the other way round. A test checks that they agree.
    items: { enum: ['preferred_username', 'name', 'email', 'email_verified', 'groups', 'idp'] },
    uniqueItems: true,
    default: [],
    description:
      'Identity claims (RFC 9068 §2.2.3.1) its access tokens and introspection answers carry, from the identity the person signed in with: ' +
      'preferred_username (login), name, email, email_verified, groups, idp (github, oidc:<id>, or external). Copied into every token of a grant: opt in only to what the MCP server needs.',
  },
  require_dpop: {
    type: 'boolean',
    default: false,
    description: 'Only DPoP-bound tokens (RFC 9449) for this resource: the token endpoint answers invalid_dpop_proof to a token request without a DPoP proof.',
  },
} as const;

const identityProviderFields = {
  display_name: { type: 'string', minLength: 1, maxLength: 100, description: 'Shown on the sign-in page: "Continue with <display_name>"' },
  issuer: { type: 'string', format: 'uri', description: 'Issuer identifier; metadata is read from <issuer>/.well-known/openid-configuration. https (http only on loopback).' },
  client_id: { type: 'string', minLength: 1, maxLength: 500 },
  client_secret: { type: 'string', minLength: 1, maxLength: 2000, writeOnly: true, description: 'Stored encrypted with ENCRYPTION_KEY; never returned' },
  scopes: { type: 'array', items: { type: 'string' }, maxItems: 50, default: ['openid', 'email', 'profile'], description: 'openid is always added' },
  groups_claim: { type: ['string', 'null'], description: "The claim listing the person's groups (e.g. groups); unset: no groups" },
} as const;

const error = { $ref: '#/components/schemas/Error' } as const;
const errors = {
  '400': { description: 'Invalid request', content: { 'application/json': { schema: error } } },
  '401': { description: 'Missing or wrong admin token', content: { 'application/json': { schema: error } } },
  '404': { description: 'Not found (or the admin API is disabled: ADMIN_TOKEN unset)', content: { 'application/json': { schema: error } } },
} as const;
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } } as const;
const providerIdParam = { name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,31}$' } } as const;
const userParam = { name: 'user', in: 'path', required: true, description: 'A Gatehouse user id (find one with GET /admin/users)', schema: { type: 'string', format: 'uuid' } } as const;
const clientIdParam = { name: 'clientId', in: 'path', required: true, schema: { type: 'string' } } as const;
const resourceIdParam = { name: 'resourceId', in: 'path', required: true, description: 'A resource server id', schema: { type: 'string', format: 'uuid' } } as const;
const json = (schema: object) => ({ 'application/json': { schema } });
const query = (name: string, description: string, schema: object = { type: 'string' }) => ({ name, in: 'query', required: false, description, schema });
const auditFilters = [
  query('type', 'Event types or prefixes, comma-separated: `token.issued,admin.*`'),
  query('client_id', 'Only events about this client'),
  query('sub', 'Only events about this user (the tokens\' `sub`)'),
  query('resource', 'Only events about this resource server (its URL, exactly)'),
  query('outcome', 'Only events with this outcome', { type: 'string', enum: AUDIT_OUTCOMES }),
] as const;

export const ADMIN_OPENAPI = {
  openapi: '3.1.0',
  info: { title: 'Gatehouse admin API', version: '1' },
  security: [{ adminToken: [] }],
  paths: {
    '/admin/resources': {
      get: { summary: 'List resource servers', responses: { '200': { description: 'Resource servers', content: json({ type: 'array', items: { $ref: '#/components/schemas/ResourceServer' } }) }, ...errors } },
      post: {
        summary: 'Register a resource server (MCP server)',
        requestBody: { required: true, content: json({ $ref: '#/components/schemas/ResourceServerInput' }) },
        responses: { '201': { description: 'Created; registration_secret is shown this once', content: json({ $ref: '#/components/schemas/ResourceServerWithSecret' }) }, ...errors },
      },
    },
    '/admin/resources/{id}': {
      parameters: [idParam],
      get: { summary: 'Read a resource server', responses: { '200': { description: 'The resource server', content: json({ $ref: '#/components/schemas/ResourceServer' }) }, ...errors } },
      patch: {
        summary: 'Change a resource server',
        requestBody: { required: true, content: json({ $ref: '#/components/schemas/ResourceServerPatch' }) },
        responses: { '200': { description: 'Updated', content: json({ $ref: '#/components/schemas/ResourceServer' }) }, ...errors },
      },
      delete: { summary: 'Delete a resource server and every grant for it', responses: { '204': { description: 'Deleted' }, ...errors } },
    },
    '/admin/resources/{id}/secret': {
      parameters: [idParam],
      post: {
        summary: 'Rotate the registration secret',
        description:
          'The secret it replaces stays valid until previous_secret_expires_at (overlap_seconds, by default a day), so a deployment can switch ' +
          'without a failed registration; 0 revokes it at once. Only one previous secret is kept: rotating again drops the older one. No body: the default overlap.',
        requestBody: { required: false, content: json({ $ref: '#/components/schemas/SecretRotationInput' }) },
        responses: { '200': { description: 'The new secret, shown this once', content: json({ $ref: '#/components/schemas/ResourceServerWithRotatedSecret' }) }, ...errors },
      },
    },
    '/admin/identity-providers': {
      get: { summary: 'List OpenID Connect providers', responses: { '200': { description: 'Providers, by display name', content: json({ type: 'array', items: { $ref: '#/components/schemas/IdentityProvider' } }) }, ...errors } },
      post: {
        summary: 'Configure an OpenID Connect provider people can sign in through',
        description: "The issuer's discovery must work with these values; otherwise 400 and nothing is stored.",
        requestBody: { required: true, content: json({ $ref: '#/components/schemas/IdentityProviderInput' }) },
        responses: { '201': { description: 'Created', content: json({ $ref: '#/components/schemas/IdentityProvider' }) }, ...errors },
      },
    },
    '/admin/identity-providers/{id}': {
      parameters: [providerIdParam],
      get: { summary: 'Read an OpenID Connect provider', responses: { '200': { description: 'The provider', content: json({ $ref: '#/components/schemas/IdentityProvider' }) }, ...errors } },
      patch: {
        summary: 'Change an OpenID Connect provider',
        description: 'A changed issuer, client_id or client_secret is checked by discovery first.',
        requestBody: { required: true, content: json({ $ref: '#/components/schemas/IdentityProviderPatch' }) },
        responses: { '200': { description: 'Updated', content: json({ $ref: '#/components/schemas/IdentityProvider' }) }, ...errors },
      },
      delete: { summary: 'Remove an OpenID Connect provider (its identities and users stay)', responses: { '204': { description: 'Deleted' }, ...errors } },
    },
    '/admin/clients': {
      get: { summary: 'List clients (dynamic, pre-registered, and recorded client metadata documents)', responses: { '200': { description: 'Clients', content: json({ type: 'array', items: { $ref: '#/components/schemas/Client' } }) }, ...errors } },
      post: {
        summary: 'Pre-register a client with RFC 7591 metadata',
        requestBody: { required: true, content: json({ $ref: '#/components/schemas/ClientMetadata' }) },
        responses: { '201': { description: 'Created; client_secret is shown this once', content: json({ $ref: '#/components/schemas/Client' }) }, ...errors },
      },
    },
    '/admin/clients/{clientId}': {
      parameters: [clientIdParam],
      delete: { summary: 'Delete a client and its grants', responses: { '204': { description: 'Deleted' }, ...errors } },
    },
    '/admin/initial-access-tokens': {
      get: {
        summary: 'List initial access tokens for dynamic registration (never the tokens themselves)',
        responses: { '200': { description: 'Tokens, oldest first', content: json({ type: 'array', items: { $ref: '#/components/schemas/InitialAccessToken' } }) }, ...errors },
      },
      post: {
        summary: 'Create an initial access token (RFC 7591 §3) for POST /register',
        requestBody: { required: true, content: json({ $ref: '#/components/schemas/InitialAccessTokenInput' }) },
        responses: { '201': { description: 'Created; token is shown this once', content: json({ $ref: '#/components/schemas/InitialAccessTokenWithToken' }) }, ...errors },
      },
    },
    '/admin/initial-access-tokens/{id}': {
      parameters: [idParam],
      delete: { summary: 'Revoke an initial access token (clients it registered stay)', responses: { '204': { description: 'Revoked' }, ...errors } },
    },
    '/admin/users': {
      get: {
        summary: 'Find users (newest first, at most 100): every filter given must match one of the user’s identities',
        parameters: [
          query('login', 'A login, any case (exact)'),
          query('email', 'An email address, any case (exact)'),
          query('provider', 'A provider: github, oidc:<id>, external'),
          query('q', "A prefix of a login, email or name (any case), a provider's subject (for a product's user, the product's own), or a user id"),
        ],
        responses: { '200': { description: 'Users', content: json({ type: 'array', items: { $ref: '#/components/schemas/User' } }) }, ...errors },
      },
    },
    '/admin/users/{id}': {
      parameters: [idParam],
      get: { summary: 'Read a user with its identities', responses: { '200': { description: 'The user', content: json({ $ref: '#/components/schemas/User' }) }, ...errors } },
    },
    '/admin/users/{id}/disable': {
      parameters: [idParam],
      post: {
        summary: 'Disable a user: sign-in, new tokens and refresh refused; every live grant revoked and every consent forgotten, in one transaction',
        responses: { '200': { description: 'The user, disabled (disabling again changes nothing)', content: json({ $ref: '#/components/schemas/User' }) }, ...errors },
      },
    },
    '/admin/users/{id}/enable': {
      parameters: [idParam],
      post: {
        summary: 'Enable a disabled user again; what disabling revoked stays revoked, and consent is asked again',
        responses: { '200': { description: 'The user, enabled', content: json({ $ref: '#/components/schemas/User' }) }, ...errors },
      },
    },
    '/admin/users/{id}/grants': {
      parameters: [idParam],
      get: { summary: "List a user's grants", responses: { '200': { description: 'Grants, oldest first', content: json({ type: 'array', items: { $ref: '#/components/schemas/Grant' } }) }, ...errors } },
      delete: {
        summary: "Revoke every live grant of a user (their refresh tokens and access tokens) and forget the consents they gave, so the next authorization asks again",
        responses: { '200': { description: 'How many grants were revoked and consents forgotten', content: json({ $ref: '#/components/schemas/RevokedCount' }) }, ...errors },
      },
    },
    '/admin/clients/{clientId}/grants': {
      parameters: [clientIdParam],
      delete: {
        summary: 'Revoke every live grant of a client and forget the consents given to it',
        responses: { '200': { description: 'How many grants were revoked and consents forgotten', content: json({ $ref: '#/components/schemas/RevokedCount' }) }, ...errors },
      },
    },
    '/admin/clients/{clientId}/client-credentials': {
      parameters: [clientIdParam],
      get: {
        summary: 'List the resource servers a client may get tokens for without a user (the client credentials grant)',
        responses: { '200': { description: 'Client credentials grants, oldest first', content: json({ type: 'array', items: { $ref: '#/components/schemas/ClientCredentialsGrant' } }) }, ...errors },
      },
    },
    '/admin/clients/{clientId}/client-credentials/{resourceId}': {
      parameters: [clientIdParam, resourceIdParam],
      put: {
        summary: 'Allow a confidential client the client credentials grant for a resource server, or set its scopes (audit event admin.client_credentials_allowed)',
        description: 'Removing a scope gives the grant a new id, which ends the access tokens issued before; adding scopes does not.',
        requestBody: { required: true, content: json({ $ref: '#/components/schemas/ClientCredentialsGrantInput' }) },
        responses: { '200': { description: 'The client credentials grant', content: json({ $ref: '#/components/schemas/ClientCredentialsGrant' }) }, ...errors },
      },
      delete: {
        summary: 'Take the client credentials grant away; the access tokens issued under it are no longer active (audit event admin.client_credentials_removed)',
        responses: { '204': { description: 'Removed' }, ...errors },
      },
    },
    '/admin/operators': {
      get: {
        summary: 'List the console operators (who may use /console, and as admin or viewer), oldest grant first',
        responses: { '200': { description: 'Operators', content: json({ type: 'array', items: { $ref: '#/components/schemas/Operator' } }) }, ...errors },
      },
    },
    '/admin/operators/{user}': {
      parameters: [userParam],
      put: {
        summary: 'Give a user a console role, or change theirs (audit event operator.granted)',
        description: 'admin: sees the console and changes things there; viewer: sees everything and changes nothing.',
        requestBody: { required: true, content: json({ type: 'object', required: ['role'], additionalProperties: false, properties: { role: { enum: ['admin', 'viewer'] } } }) },
        responses: { '200': { description: 'The operator', content: json({ $ref: '#/components/schemas/Operator' }) }, ...errors },
      },
      delete: {
        summary: 'Take away a user’s console role (audit event operator.revoked); 404 when they have none',
        responses: { '204': { description: 'Revoked' }, ...errors },
      },
    },
    '/admin/keys/rotate': {
      post: {
        summary: 'Rotate the signing keys: retire the active key, sign with the published next key, publish a fresh next key',
        description: 'This instance signs with the new key at once; other instances within KEY_RELOAD_SECONDS. Retired keys stay in the JWKS for 24 h.',
        responses: { '200': { description: 'The kids the rotation moved', content: json({ $ref: '#/components/schemas/KeyRotation' }) }, ...errors },
      },
    },
    '/admin/audit': {
      get: {
        summary: 'Audit events, oldest first, cursor-paginated by seq',
        parameters: [
          ...auditFilters,
          query('since', 'Only events at or after this time', { type: 'string', format: 'date-time' }),
          query('until', 'Only events before this time', { type: 'string', format: 'date-time' }),
          query('cursor', 'next_cursor of the previous page: events after this seq', { type: 'string', pattern: '^[0-9]+$' }),
          query('limit', 'Page size', { type: 'integer', minimum: 1, maximum: 1000, default: 100 }),
        ],
        responses: {
          '200': {
            description: 'A page of events; next_cursor is null on the last page',
            content: json({
              type: 'object',
              required: ['events', 'next_cursor'],
              properties: { events: { type: 'array', items: { $ref: '#/components/schemas/AuditEvent' } }, next_cursor: { type: ['string', 'null'] } },
            }),
          },
          ...errors,
        },
      },
    },
    '/admin/audit/stream': {
      get: {
        summary: 'Live audit events as Server-Sent Events: `id:` is the seq, `data:` the event; resumable with Last-Event-ID',
        parameters: [
          ...auditFilters,
          query('cursor', 'Start after this seq (Last-Event-ID wins); default: only events from now on', { type: 'string', pattern: '^[0-9]+$' }),
          { name: 'Last-Event-ID', in: 'header', required: false, description: 'The id of the last event received: the stream resumes after it', schema: { type: 'string', pattern: '^[0-9]+$' } },
        ],
        responses: {
          '200': { description: 'An endless text/event-stream; comment lines are heartbeats', content: { 'text/event-stream': { schema: { type: 'string' } } } },
          ...errors,
        },
      },
    },
    '/admin/migrations': {
      get: {
        summary: 'Database migrations: applied (oldest first) and pending (this build knows them, the database has not applied them)',
        responses: { '200': { description: 'Migration status', content: json({ $ref: '#/components/schemas/MigrationStatus' }) }, ...errors },
      },
    },
    '/admin/openapi.json': {
      get: { summary: 'This document', responses: { '200': { description: 'OpenAPI 3.1 document' }, ...errors } },
    },
  },
  components: {
    securitySchemes: {
      adminToken: {
        type: 'http',
        scheme: 'bearer',
        description: 'The ADMIN_TOKEN configured on the server, or (from this machine only) the token in DATA_DIR/local-admin.json',
      },
    },
    schemas: {
      ClientCredentialsGrantInput: {
        type: 'object',
        required: ['scopes'],
        properties: { scopes: { type: 'array', minItems: 1, maxItems: 100, items: { type: 'string' }, description: "Scopes of the resource server the client may get" } },
      },
      ClientCredentialsGrant: {
        type: 'object',
        properties: {
          id: { type: 'string', format: 'uuid', description: 'The grant_id of the access tokens issued under it' },
          client_id: { type: 'string' },
          resource_id: { type: 'string', format: 'uuid' },
          resource: { type: 'string', format: 'uri' },
          scopes: { type: 'array', items: { type: 'string' } },
          created_at: { type: 'string', format: 'date-time' },
          created_by: { type: 'string', description: 'api, cli, or a console operator\'s user id' },
          updated_at: { type: 'string', format: 'date-time' },
        },
      },
      Grant: {
        type: 'object',
        properties: {
          id: { type: 'string', format: 'uuid' },
          client_id: { type: 'string' },
          resource_id: { type: 'string', format: 'uuid' },
          scopes: { type: 'array', items: { type: 'string' } },
          created_at: { type: 'string', format: 'date-time' },
          revoked_at: { type: ['string', 'null'], format: 'date-time' },
          revoked_reason: { type: ['string', 'null'] },
        },
      },
      MigrationStatus: {
        type: 'object',
        required: ['applied', 'pending'],
        properties: { applied: { type: 'array', items: { type: 'string' } }, pending: { type: 'array', items: { type: 'string' } } },
      },
      RevokedCount: { type: 'object', properties: { revoked: { type: 'integer' }, consents_cleared: { type: 'integer' } } },
      User: {
        type: 'object',
        properties: {
          id: { type: 'string', format: 'uuid', description: 'The Gatehouse id: the sub of its tokens, except for a product’s user (whose sub is the product’s subject)' },
          display_name: { type: ['string', 'null'] },
          created_at: { type: 'string', format: 'date-time' },
          disabled: { type: 'boolean' },
          disabled_at: { type: ['string', 'null'], format: 'date-time' },
          live_grants: { type: 'integer' },
          identities: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                provider: { type: 'string', description: 'github, oidc:<id>, or external' },
                subject: { type: 'string', description: "The provider's id for the person (external: <resource id>:<product subject>)" },
                login: { type: ['string', 'null'] },
                name: { type: ['string', 'null'] },
                email: { type: ['string', 'null'] },
                email_verified: { type: 'boolean' },
                groups: { type: 'array', items: { type: 'string' } },
                created_at: { type: 'string', format: 'date-time' },
                updated_at: { type: 'string', format: 'date-time' },
              },
            },
          },
        },
      },
      InitialAccessTokenInput: {
        type: 'object',
        additionalProperties: false,
        properties: {
          description: { type: 'string', minLength: 1, maxLength: 200 },
          max_registrations: { type: 'integer', minimum: 1, maximum: 1000000, description: 'How many clients it may register; omitted: no limit' },
          expires_in: { type: 'integer', minimum: 60, maximum: 31536000, description: 'Seconds until it expires; omitted: never (revoke it instead)' },
        },
      },
      InitialAccessToken: {
        type: 'object',
        properties: {
          id: { type: 'string', format: 'uuid' },
          description: { type: ['string', 'null'] },
          max_registrations: { type: ['integer', 'null'] },
          registrations: { type: 'integer', description: 'Registrations made with it so far' },
          status: { enum: ['active', 'revoked', 'expired', 'used_up'] },
          expires_at: { type: ['string', 'null'], format: 'date-time' },
          created_at: { type: 'string', format: 'date-time' },
          revoked_at: { type: ['string', 'null'], format: 'date-time' },
        },
      },
      InitialAccessTokenWithToken: {
        allOf: [
          { $ref: '#/components/schemas/InitialAccessToken' },
          { type: 'object', properties: { token: { type: 'string', description: 'Send as Authorization: Bearer <token> to POST /register; stored only as its SHA-256' } } },
        ],
      },
      Operator: {
        type: 'object',
        required: ['user_id', 'display_name', 'role', 'granted_at', 'granted_by', 'identities'],
        properties: {
          user_id: { type: 'string', format: 'uuid' },
          display_name: { type: ['string', 'null'] },
          role: { enum: ['admin', 'viewer'] },
          granted_at: { type: 'string', format: 'date-time' },
          granted_by: { type: 'string', description: 'api (the admin API and the CLI), config (CONSOLE_ADMINS), or the user id of the operator who granted it' },
          identities: {
            type: 'array',
            items: {
              type: 'object',
              properties: { provider: { type: 'string' }, login: { type: ['string', 'null'] }, email: { type: ['string', 'null'] } },
            },
          },
        },
      },
      KeyRotation: {
        type: 'object',
        required: ['retired', 'active', 'next'],
        properties: {
          retired: { type: 'string', description: 'kid of the key that signed until now (still published)' },
          active: { type: 'string', description: 'kid of the key that signs from now on (it was the published next key)' },
          next: { type: 'string', description: 'kid of the freshly published next key' },
        },
      },
      AuditEvent: {
        type: 'object',
        description: 'Audit event, schema 1. Never holds a token, code or secret.',
        required: ['schema', 'seq', 'id', 'type', 'time', 'actor', 'outcome', 'data'],
        properties: {
          schema: { const: 1 },
          seq: { type: 'integer', description: 'Position in the outbox; a seq is read only once every smaller one is final, so a cursor skips nothing' },
          id: { type: 'string', format: 'uuid', description: 'Unique; the webhook idempotency key' },
          type: { type: 'string', examples: ['token.issued'] },
          time: { type: 'string', format: 'date-time' },
          actor: { type: 'object', properties: { kind: { enum: ['user', 'client', 'resource', 'admin', 'system'] }, id: { type: ['string', 'null'] } } },
          subject: { type: ['string', 'null'] },
          client_id: { type: ['string', 'null'] },
          resource: { type: ['string', 'null'] },
          scopes: { type: ['array', 'null'], items: { type: 'string' } },
          ip: { type: ['string', 'null'] },
          user_agent: { type: ['string', 'null'] },
          request_id: { type: ['string', 'null'] },
          outcome: { enum: AUDIT_OUTCOMES },
          data: { type: 'object', description: 'Type-specific ids, names and flags (grant_id, jti, reason…)' },
        },
      },
      Error: { type: 'object', required: ['error'], properties: { error: { type: 'string' }, error_description: { type: 'string' } } },
      ResourceServerInput: { type: 'object', additionalProperties: false, required: ['name', 'resource', 'scopes'], properties: resourceFields },
      ResourceServerPatch: { type: 'object', additionalProperties: false, properties: resourceFields },
      ResourceServer: {
        type: 'object',
        properties: { id: { type: 'string', format: 'uuid' }, ...resourceFields, created_at: { type: 'string', format: 'date-time' }, updated_at: { type: 'string', format: 'date-time' } },
      },
      ResourceServerWithSecret: {
        allOf: [{ $ref: '#/components/schemas/ResourceServer' }, { type: 'object', properties: { registration_secret: { type: 'string' } } }],
      },
      SecretRotationInput: {
        type: 'object',
        additionalProperties: false,
        properties: {
          overlap_seconds: {
            type: 'integer',
            minimum: 0,
            maximum: MAX_SECRET_OVERLAP_SECONDS,
            default: DEFAULT_SECRET_OVERLAP_SECONDS,
            description: 'How long the replaced secret stays valid, in seconds; 0 revokes it at once.',
          },
        },
      },
      ResourceServerWithRotatedSecret: {
        allOf: [
          { $ref: '#/components/schemas/ResourceServerWithSecret' },
          {
            type: 'object',
            required: ['registration_secret', 'previous_secret_expires_at'],
            properties: {
              previous_secret_expires_at: {
                type: ['string', 'null'],
                format: 'date-time',
                description: 'Until when the replaced secret is still accepted; null when it was revoked at once.',
              },
            },
          },
        ],
      },
      IdentityProviderInput: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'display_name', 'issuer', 'client_id', 'client_secret'],
        properties: { id: providerIdParam.schema, ...identityProviderFields },
      },
      IdentityProviderPatch: { type: 'object', additionalProperties: false, properties: identityProviderFields },
      IdentityProvider: {
        type: 'object',
        properties: {
          id: { type: 'string', description: 'In the sign-in URLs and the identities (oidc:<id>)' },
          display_name: identityProviderFields.display_name,
          issuer: identityProviderFields.issuer,
          client_id: identityProviderFields.client_id,
          client_secret_set: { const: true },
          scopes: { type: 'array', items: { type: 'string' } },
          groups_claim: { type: ['string', 'null'] },
          redirect_uri: { type: 'string', format: 'uri', description: 'Register this callback URL with the provider' },
          created_at: { type: 'string', format: 'date-time' },
          updated_at: { type: 'string', format: 'date-time' },
        },
      },
      ClientMetadata: {
        type: 'object',
        description: 'redirect_uris is required unless grant_types is ["client_credentials"] alone (a machine-to-machine client, with no redirect URIs).',
        properties: {
          redirect_uris: { type: 'array', items: { type: 'string', format: 'uri' } },
          token_endpoint_auth_method: { enum: ['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt'], default: 'client_secret_basic' },
          jwks: { type: 'object', required: ['keys'], properties: { keys: { type: 'array', items: { type: 'object' } } }, description: 'private_key_jwt only (or jwks_uri): the public keys (EC P-256, RSA ≥ 2048 bits, Ed25519) client assertions are signed with' },
          jwks_uri: { type: 'string', format: 'uri', description: 'private_key_jwt only (or jwks): https URL of the client\'s JWK Set, fetched like a client metadata document' },
          grant_types: {
            type: 'array',
            items: { enum: ['authorization_code', 'refresh_token', 'client_credentials'] },
            description: 'client_credentials (confidential clients only) is usable once allowed for a resource server: PUT /admin/clients/{clientId}/client-credentials/{resourceId}',
          },
          response_types: { type: 'array', items: { enum: ['code'] } },
          application_type: {
            enum: ['web', 'native'],
            description: 'web: https redirect URIs only; native: loopback http, private-use schemes or https. Omitted: native when any redirect URI is not https, else web.',
          },
          client_name: { type: 'string' },
          client_uri: { type: 'string', format: 'uri' },
          logo_uri: { type: 'string', format: 'uri' },
          tos_uri: { type: 'string', format: 'uri' },
          policy_uri: { type: 'string', format: 'uri' },
          scope: { type: 'string' },
          contacts: { type: 'array', items: { type: 'string' } },
          software_id: { type: 'string' },
          software_version: { type: 'string' },
        },
      },
      Client: {
        allOf: [
          { $ref: '#/components/schemas/ClientMetadata' },
          {
            type: 'object',
            properties: {
              client_id: { type: 'string' },
              client_id_issued_at: { type: 'integer' },
              client_secret: { type: 'string' },
              client_secret_expires_at: { type: 'integer' },
              kind: { enum: ['dynamic', 'static', 'metadata_document'], description: 'metadata_document: the client_id is a client metadata document URL; the row records its last valid document.' },
              metadata_expires_at: { type: 'string', format: 'date-time', description: 'metadata_document only: until when the recorded document is used without fetching it again.' },
            },
          },
        ],
      },
    },
  },
} as const;
