import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { INestApplicationContext, Type } from '@nestjs/common';
import { parseArgs } from 'node:util';
import { readFile } from 'node:fs/promises';
import { DataSource } from 'typeorm';
import { ConfigError, loadConfig } from './config/config.js';
import { resolveSecrets } from './config/secrets.js';
import { AppModule } from './app.module.js';
import { JsonLogger } from './common/logger.js';
import { NotFound, OAuthError } from './common/oauth-errors.js';
import { GrantsService, toGrantView } from './tokens/grants.service.js';
import { toManagedUserView, UserManagementService } from './tokens/user-management.service.js';
import { strictValidationPipe } from './common/validation.js';
import { CreateResourceServerDto, UpdateResourceServerDto } from './resources/dto/resource-server.dto.js';
import { ResourcesService, toResourceServerView } from './resources/resources.service.js';
import { ClientsService } from './registration/clients.service.js';
import { InitialAccessTokens, toInitialAccessTokenView } from './registration/initial-access-tokens.service.js';
import { CreateInitialAccessTokenDto } from './registration/dto/initial-access-token.dto.js';
import { KeyService } from './keys/key.service.js';
import { IdentityProvidersService } from './identity-providers/identity-providers.service.js';
import { CreateIdentityProviderDto, UpdateIdentityProviderDto } from './identity-providers/dto/identity-provider.dto.js';
import { pendingMigrations, revertLastMigration } from './database/migration-runner.js';
import { MIGRATIONS } from '../migrations/index.js';

const USAGE = `Usage: npm run -s cli -- <command>

  resources create --name NAME --resource URL --scopes a,b [--default-scopes a] [--access-token-ttl SECONDS]
                   [--refresh-token-ttl SECONDS] [--logo-uri URL] [--policy-uri URL] [--tos-uri URL] [--default]
                   [--login-method gatehouse|external] [--login-uri URL] [--consent-uri URL]
                   [--sign-in '<JSON policy>' | --allow-everyone | --allow-github-orgs a,b --allow-github-teams org/team
                    --allow-github-users a --allow-email-domains acme.com --allow-oidc-groups g [--sign-in-providers github,oidc:ID]]
                   who may sign in (default: nobody until set; on update, replaces the whole policy)
                   [--identity-claims preferred_username,name,email,email_verified,groups,idp]
  resources list
  resources get ID
  resources update ID [any create option]
  resources delete ID
  resources rotate-secret ID
  clients create --redirect-uri URI [--redirect-uri URI …] [--name NAME] [--auth-method none|client_secret_basic|client_secret_post]
                 [--grant-types authorization_code,refresh_token] [--scope "a b"]
  clients create --metadata '<RFC 7591 JSON>'
  clients list
  clients delete CLIENT_ID
  clients revoke-grants CLIENT_ID   revoke every live grant of a client
  initial-access-tokens create [--description TEXT] [--max-registrations N] [--expires-in SECONDS]
                                    a token for POST /register (RFC 7591 §3), printed once
  initial-access-tokens list
  initial-access-tokens revoke ID
  identity-providers create ID --name NAME --issuer URL --client-id ID --client-secret-file PATH|-
                             [--scopes openid,email,profile] [--groups-claim CLAIM]
                                    an OpenID Connect provider to sign in through; its discovery must work;
                                    the secret is read from a file (- for stdin), never from the command line
  identity-providers list
  identity-providers get ID
  identity-providers update ID [any create option but ID]
  identity-providers delete ID
  users find TEXT                   users whose login, email or name starts with TEXT (any case), or whose id or
                                    provider subject it is (for a product's user: the product's own id)
  users get USER                    a user with its identities, state and live grant count
  users disable USER                refuse sign-in, tokens and refresh; revoke every grant and forget every consent
  users enable USER                 let a disabled user sign in again (what was revoked stays revoked)
  users grants USER                 list a user's grants
  users revoke-grants USER          revoke every live grant of a user and forget the consents behind them
                                    (USER: an id, PROVIDER:LOGIN such as github:octocat, or an email address)
  keys rotate        publish a new next key, start signing with the previous next key, retire the active one
  keys list
  migrate status | down

Reads the same environment as the server (DATABASE_URL, DATA_DIR, ENCRYPTION_KEY, …). Prints JSON on stdout.`;

const OPTIONS = {
  name: { type: 'string' },
  resource: { type: 'string' },
  scopes: { type: 'string' },
  'default-scopes': { type: 'string' },
  'access-token-ttl': { type: 'string' },
  'refresh-token-ttl': { type: 'string' },
  'logo-uri': { type: 'string' },
  'policy-uri': { type: 'string' },
  'tos-uri': { type: 'string' },
  default: { type: 'boolean' },
  'login-method': { type: 'string' },
  'login-uri': { type: 'string' },
  'consent-uri': { type: 'string' },
  'sign-in': { type: 'string' },
  'sign-in-providers': { type: 'string' },
  'allow-everyone': { type: 'boolean' },
  'allow-github-users': { type: 'string' },
  'allow-github-orgs': { type: 'string' },
  'allow-github-teams': { type: 'string' },
  'allow-email-domains': { type: 'string' },
  'allow-oidc-groups': { type: 'string' },
  'identity-claims': { type: 'string' },
  'redirect-uri': { type: 'string', multiple: true },
  'auth-method': { type: 'string' },
  'grant-types': { type: 'string' },
  scope: { type: 'string' },
  metadata: { type: 'string' },
  description: { type: 'string' },
  'max-registrations': { type: 'string' },
  'expires-in': { type: 'string' },
  issuer: { type: 'string' },
  'client-id': { type: 'string' },
  'client-secret-file': { type: 'string' },
  'groups-claim': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Flags = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values: flags, positionals } = parsed;
  const [group, action, id] = positionals;
  if (flags.help || !group) {
    process.stdout.write(USAGE + '\n');
    return flags.help ? 0 : 2;
  }
  const config = loadConfig();
  const app = await NestFactory.createApplicationContext(AppModule.forRoot(config, await resolveSecrets(config), { audit: { delivery: false } }), {
    logger: new JsonLogger('warn', (line) => process.stderr.write(line + '\n')),
    abortOnError: false,
  });
  try {
    const result = await run(app, group, action, id, flags);
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    return 0;
  } finally {
    await app.close();
  }
}

async function run(app: INestApplicationContext, group: string, action: string | undefined, id: string | undefined, flags: Flags): Promise<unknown> {
  const need = (value: string | undefined, what: string): string => {
    if (!value) throw new UsageError(`${group} ${action}: missing ${what}`);
    return value;
  };
  if (group === 'resources') {
    const resources = app.get(ResourcesService);
    switch (action) {
      case 'create': {
        const { resource, registrationSecret } = await resources.create(await validated(CreateResourceServerDto, resourceInput(flags)));
        return { ...toResourceServerView(resource), registration_secret: registrationSecret };
      }
      case 'list':
        return (await resources.list()).map(toResourceServerView);
      case 'get':
        return toResourceServerView(await resources.get(need(id, 'ID')));
      case 'update':
        return toResourceServerView(await resources.update(need(id, 'ID'), await validated(UpdateResourceServerDto, resourceInput(flags))));
      case 'delete':
        await resources.delete(need(id, 'ID'));
        return { deleted: id };
      case 'rotate-secret': {
        const { resource, registrationSecret } = await resources.rotateSecret(need(id, 'ID'));
        return { ...toResourceServerView(resource), registration_secret: registrationSecret };
      }
    }
  }
  if (group === 'clients') {
    const clients = app.get(ClientsService);
    switch (action) {
      case 'create':
        return { ...clients.view(await clients.register(clientInput(flags), 'static')), kind: 'static' };
      case 'list':
        return (await clients.list()).map((client) => ({ ...clients.view(client), kind: client.kind }));
      case 'delete':
        await clients.delete(need(id, 'CLIENT_ID'), 'admin.client_deleted');
        return { deleted: id };
      case 'revoke-grants': {
        const clientId = need(id, 'CLIENT_ID');
        if (!(await clients.find(clientId))) throw new NotFound(`no client with id ${clientId}`);
        const result = await app.get(GrantsService).revokeAll({ clientId });
        return { revoked: result.revoked, consents_cleared: result.consentsCleared };
      }
    }
  }
  if (group === 'initial-access-tokens') {
    const tokens = app.get(InitialAccessTokens);
    switch (action) {
      case 'create': {
        const { token, secret } = await tokens.create(await validated(CreateInitialAccessTokenDto, initialAccessTokenInput(flags)));
        return { ...toInitialAccessTokenView(token), token: secret };
      }
      case 'list':
        return (await tokens.list()).map((token) => toInitialAccessTokenView(token));
      case 'revoke':
        return toInitialAccessTokenView(await tokens.revoke(need(id, 'ID')));
    }
  }
  if (group === 'identity-providers') {
    const providers = app.get(IdentityProvidersService);
    switch (action) {
      case 'create': {
        const input = { id: need(id, 'ID'), ...(await identityProviderInput(flags)) };
        return providers.view(await providers.create(await validated(CreateIdentityProviderDto, input)));
      }
      case 'list':
        return (await providers.list()).map((provider) => providers.view(provider));
      case 'get':
        return providers.view(await providers.get(need(id, 'ID')));
      case 'update':
        return providers.view(await providers.update(need(id, 'ID'), await validated(UpdateIdentityProviderDto, await identityProviderInput(flags))));
      case 'delete':
        await providers.delete(need(id, 'ID'));
        return { deleted: id };
    }
  }
  if (group === 'users') {
    const grants = app.get(GrantsService);
    const users = app.get(UserManagementService);
    if (action === 'find') return (await users.find({ login: null, email: null, provider: null, q: need(id, 'TEXT') })).map(toManagedUserView);
    const userId = (await users.resolve(need(id, 'USER'))).id;
    switch (action) {
      case 'get':
        return toManagedUserView(await users.get(userId));
      case 'disable':
        return toManagedUserView(await users.disable(userId));
      case 'enable':
        return toManagedUserView(await users.enable(userId));
      case 'grants':
        return (await grants.listForUser(userId)).map(toGrantView);
      case 'revoke-grants': {
        const result = await grants.revokeAll({ userId });
        return { revoked: result.revoked, consents_cleared: result.consentsCleared };
      }
    }
  }
  if (group === 'keys') {
    const keys = app.get(KeyService);
    if (action === 'rotate') return keys.rotate();
    if (action === 'list') return keys.jwks();
  }
  if (group === 'migrate') {
    const dataSource = app.get(DataSource);
    if (action === 'status') return { pending: await pendingMigrations(dataSource, MIGRATIONS) };
    if (action === 'down') return { reverted: await revertLastMigration(dataSource, MIGRATIONS) };
  }
  throw new UsageError(`unknown command: ${[group, action].filter(Boolean).join(' ')}`);
}

/** Runs the admin API's own validation, so the CLI accepts exactly what POST/PATCH /admin/resources accept. */
async function validated<T extends object>(type: Type<T>, input: Record<string, unknown>): Promise<T> {
  return (await strictValidationPipe.transform(input, { type: 'body', metatype: type })) as T;
}

function resourceInput(flags: Flags): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  const list = (value: string | undefined) => (value === undefined ? undefined : value.split(/[\s,]+/).filter(Boolean));
  const int = (value: string | undefined) => (value === undefined ? undefined : /^\d+$/.test(value) ? Number(value) : value);
  if (flags.name !== undefined) input.name = flags.name;
  if (flags.resource !== undefined) input.resource = flags.resource;
  if (flags.scopes !== undefined) input.scopes = list(flags.scopes);
  if (flags['default-scopes'] !== undefined) input.default_scopes = list(flags['default-scopes']);
  if (flags['access-token-ttl'] !== undefined) input.access_token_ttl = int(flags['access-token-ttl']);
  if (flags['refresh-token-ttl'] !== undefined) input.refresh_token_ttl = int(flags['refresh-token-ttl']);
  if (flags['logo-uri'] || flags['policy-uri'] || flags['tos-uri']) {
    input.branding = Object.fromEntries(
      Object.entries({ logo_uri: flags['logo-uri'], policy_uri: flags['policy-uri'], tos_uri: flags['tos-uri'] }).filter(([, v]) => v !== undefined),
    );
  }
  if (flags.default !== undefined) input.is_default = flags.default;
  if (flags['login-method'] !== undefined) input.login_method = flags['login-method'];
  if (flags['login-uri'] !== undefined) input.login_uri = flags['login-uri'];
  if (flags['consent-uri'] !== undefined) input.consent_uri = flags['consent-uri'];
  const signIn = signInInput(flags, list);
  if (signIn !== undefined) input.sign_in = signIn;
  if (flags['identity-claims'] !== undefined) input.identity_claims = list(flags['identity-claims']);
  return input;
}

/** The client secret comes from a file or stdin: a command line is visible to other users (ps) and kept in shell history. */
async function identityProviderInput(flags: Flags): Promise<Record<string, unknown>> {
  const input: Record<string, unknown> = {};
  if (flags.name !== undefined) input.display_name = flags.name;
  if (flags.issuer !== undefined) input.issuer = flags.issuer;
  if (flags['client-id'] !== undefined) input.client_id = flags['client-id'];
  if (flags.scopes !== undefined) input.scopes = flags.scopes.split(/[\s,]+/).filter(Boolean);
  if (flags['groups-claim'] !== undefined) input.groups_claim = flags['groups-claim'];
  const secretFile = flags['client-secret-file'];
  if (secretFile !== undefined) {
    const text = secretFile === '-' ? await readStdin() : await readFile(secretFile, 'utf8').catch(() => {
      throw new UsageError(`--client-secret-file: cannot read ${secretFile}`);
    });
    input.client_secret = text.replace(/\r?\n$/, '');
  }
  return input;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** `--sign-in` as JSON, or the policy the `--allow-*` flags spell; checked by the admin API's own rules. */
function signInInput(flags: Flags, list: (value: string | undefined) => string[] | undefined): unknown {
  const rules = {
    github_users: list(flags['allow-github-users']),
    github_organizations: list(flags['allow-github-orgs']),
    github_teams: list(flags['allow-github-teams']),
    email_domains: list(flags['allow-email-domains']),
    oidc_groups: list(flags['allow-oidc-groups']),
  };
  const ruleFlags = Object.values(rules).some((value) => value !== undefined);
  const providers = list(flags['sign-in-providers']);
  if (flags['sign-in'] !== undefined) {
    if (ruleFlags || flags['allow-everyone'] || providers) throw new UsageError('--sign-in replaces the --allow-* and --sign-in-providers flags; use one or the other');
    try {
      return JSON.parse(flags['sign-in']) as unknown;
    } catch {
      throw new UsageError('--sign-in must be a JSON policy: {"providers": null, "allow": {"github_organizations": ["acme"]}}');
    }
  }
  if (flags['allow-everyone'] && ruleFlags) throw new UsageError('--allow-everyone cannot be combined with other --allow-* flags');
  if (!flags['allow-everyone'] && !ruleFlags && !providers) return undefined;
  const allow = flags['allow-everyone'] ? 'everyone' : Object.fromEntries(Object.entries(rules).filter(([, value]) => value !== undefined));
  return { providers: providers ?? null, allow };
}

function initialAccessTokenInput(flags: Flags): Record<string, unknown> {
  const int = (value: string) => (/^\d+$/.test(value) ? Number(value) : value);
  const input: Record<string, unknown> = {};
  if (flags.description !== undefined) input.description = flags.description;
  if (flags['max-registrations'] !== undefined) input.max_registrations = int(flags['max-registrations']);
  if (flags['expires-in'] !== undefined) input.expires_in = int(flags['expires-in']);
  return input;
}

function clientInput(flags: Flags): Record<string, unknown> {
  if (flags.metadata !== undefined) {
    try {
      const parsed: unknown = JSON.parse(flags.metadata);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
      return parsed as Record<string, unknown>;
    } catch {
      throw new UsageError('--metadata must be a JSON object of RFC 7591 client metadata');
    }
  }
  const input: Record<string, unknown> = { redirect_uris: flags['redirect-uri'] ?? [] };
  if (flags.name !== undefined) input.client_name = flags.name;
  if (flags['auth-method'] !== undefined) input.token_endpoint_auth_method = flags['auth-method'];
  if (flags['grant-types'] !== undefined) input.grant_types = flags['grant-types'].split(',').filter(Boolean);
  if (flags.scope !== undefined) input.scope = flags.scope;
  return input;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`${error.message}\n\n${USAGE}\n`);
      process.exit(2);
    }
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78);
    }
    if (error instanceof OAuthError) {
      process.stderr.write(JSON.stringify({ error: error.code, error_description: error.description }) + '\n');
      process.exit(1);
    }
    process.stderr.write(`${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
    process.exit(1);
  },
);
