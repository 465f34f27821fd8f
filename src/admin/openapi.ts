/**
 * The admin API's OpenAPI 3.1 description, served at /admin/openapi.json. Written by hand next to the routes it
 * describes; a test checks that every admin route is in it and every path in it is a route.
 */
const resourceFields = {
  name: { type: 'string', minLength: 1, maxLength: 200 },
  resource: { type: 'string', format: 'uri', description: 'Canonical URL of the MCP server (RFC 8707); the aud of its tokens.' },
  scopes: { type: 'array', items: { type: 'string' }, minItems: 1, maxItems: 100 },
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
} as const;

const error = { $ref: '#/components/schemas/Error' } as const;
const errors = {
  '400': { description: 'Invalid request', content: { 'application/json': { schema: error } } },
  '401': { description: 'Missing or wrong admin token', content: { 'application/json': { schema: error } } },
  '404': { description: 'Not found (or the admin API is disabled: ADMIN_TOKEN unset)', content: { 'application/json': { schema: error } } },
} as const;
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } } as const;
const clientIdParam = { name: 'clientId', in: 'path', required: true, schema: { type: 'string' } } as const;
const json = (schema: object) => ({ 'application/json': { schema } });

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
      post: { summary: 'Rotate the registration secret', responses: { '200': { description: 'The new secret, shown this once', content: json({ $ref: '#/components/schemas/ResourceServerWithSecret' }) }, ...errors } },
    },
    '/admin/clients': {
      get: { summary: 'List clients (dynamic and pre-registered)', responses: { '200': { description: 'Clients', content: json({ type: 'array', items: { $ref: '#/components/schemas/Client' } }) }, ...errors } },
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
    '/admin/users/{id}/grants': {
      parameters: [idParam],
      get: { summary: "List a user's grants", responses: { '200': { description: 'Grants, oldest first', content: json({ type: 'array', items: { $ref: '#/components/schemas/Grant' } }) }, ...errors } },
      delete: {
        summary: "Revoke every live grant of a user (their refresh tokens and access tokens), e.g. on account deactivation",
        responses: { '200': { description: 'How many grants were revoked', content: json({ $ref: '#/components/schemas/RevokedCount' }) }, ...errors },
      },
    },
    '/admin/clients/{clientId}/grants': {
      parameters: [clientIdParam],
      delete: { summary: 'Revoke every live grant of a client', responses: { '200': { description: 'How many grants were revoked', content: json({ $ref: '#/components/schemas/RevokedCount' }) }, ...errors } },
    },
    '/admin/openapi.json': {
      get: { summary: 'This document', responses: { '200': { description: 'OpenAPI 3.1 document' }, ...errors } },
    },
  },
  components: {
    securitySchemes: { adminToken: { type: 'http', scheme: 'bearer', description: 'The ADMIN_TOKEN configured on the server' } },
    schemas: {
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
      RevokedCount: { type: 'object', properties: { revoked: { type: 'integer' } } },
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
      ClientMetadata: {
        type: 'object',
        required: ['redirect_uris'],
        properties: {
          redirect_uris: { type: 'array', items: { type: 'string', format: 'uri' } },
          token_endpoint_auth_method: { enum: ['none', 'client_secret_basic', 'client_secret_post'], default: 'client_secret_basic' },
          grant_types: { type: 'array', items: { enum: ['authorization_code', 'refresh_token'] } },
          response_types: { type: 'array', items: { enum: ['code'] } },
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
              kind: { enum: ['dynamic', 'static'] },
            },
          },
        ],
      },
    },
  },
} as const;
