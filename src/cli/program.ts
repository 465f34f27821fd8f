import { Command, Option } from 'commander';
import { readFile } from 'node:fs/promises';
import { AdminApiError, type AdminClient } from './admin-client.js';
import { absoluteUrl, duration, httpUrl, isUuid, serverUrl, jsonObject, list, nonEmpty, scopeDescription, UsageError, urlList, wholeNumber } from './parsers.js';

/**
 * The command tree: every command, its arguments and options (checked while parsing), and the admin API route it
 * maps to. Parsing opens nothing; it yields a job, which src/cli/run.ts executes against a server or the database.
 */

export type CliJob =
  | { kind: 'admin'; run: (api: AdminClient) => Promise<unknown> }
  | { kind: 'migrate'; action: 'status' | 'up' | 'down' }
  | { kind: 'serve' };

export interface TargetOptions {
  /** A server's URL: administer it through its admin API with ADMIN_TOKEN. */
  server?: string;
  tokenFile?: string;
}

export interface ParsedCommand {
  job: CliJob;
  target: TargetOptions;
}

type Opts = Record<string, unknown>;

const TARGET_HELP = `
How the CLI reaches Gatehouse:
  --server URL       that server's admin API, with ADMIN_TOKEN from --token-file or GATEHOUSE_ADMIN_TOKEN
  otherwise          the server running on this machine on the same DATA_DIR, through the local credential it
                     writes to DATA_DIR/local-admin.json; when none answers, the database itself
                     (DATABASE_URL, or the embedded one in DATA_DIR)
Reads the same environment as the server (DATA_DIR, DATABASE_URL, ENCRYPTION_KEY, …). Prints JSON on stdout.
Exit codes: 0 done, 1 refused or failed (the error as JSON on stderr), 2 usage, 78 invalid configuration.`;

/** The program; `onJob` receives what the command line asks for. Errors are thrown (exitOverride), never exit. */
export function buildProgram(onJob: (job: CliJob) => void, output: { out: (text: string) => void; err: (text: string) => void }): Command {
  const program = new Command('gatehouse')
    .description('Gatehouse: an OAuth 2.1 authorization server for MCP servers')
    .exitOverride()
    .configureOutput({ writeOut: output.out, writeErr: output.err })
    .showHelpAfterError('(add --help for usage)')
    .allowExcessArguments(false)
    .addOption(new Option('--server <url>', "administer the server at URL through its admin API (needs its ADMIN_TOKEN)").argParser(serverUrl))
    .addOption(new Option('--token-file <path>', 'a file holding the ADMIN_TOKEN for --server (or set GATEHOUSE_ADMIN_TOKEN)'))
    .addHelpText('after', TARGET_HELP);

  const admin = (run: (api: AdminClient) => Promise<unknown>) => onJob({ kind: 'admin', run });

  program
    .command('serve')
    .description('start the server (the same as node dist/src/main.js); configured by the environment')
    .action(() => onJob({ kind: 'serve' }));

  const resources = program.command('resources').description('the MCP servers (resource servers) Gatehouse issues tokens for');
  resourceOptions(resources.command('create').description('register an MCP server; prints its registration secret once'), true).action(async (opts: Opts) => {
    const body = resourceInput(opts);
    admin((api) => api.post('/admin/resources', body));
  });
  resources.command('list').description('list resource servers').action(() => admin((api) => api.get('/admin/resources')));
  resources
    .command('get')
    .description('show one resource server')
    .argument('<id>', 'resource server id')
    .action((id: string) => admin((api) => api.get(`/admin/resources/${enc(id)}`)));
  resourceOptions(resources.command('update').description('change a resource server (only the options given)').argument('<id>', 'resource server id'), false).action(
    (id: string, opts: Opts) => {
      const body = resourceInput(opts);
      if (Object.keys(body).length === 0) throw new UsageError('resources update: give at least one option to change (see --help)');
      admin((api) => api.patch(`/admin/resources/${enc(id)}`, body));
    },
  );
  resources
    .command('delete')
    .description('delete a resource server and every grant for it')
    .argument('<id>', 'resource server id')
    .action((id: string) => admin(async (api) => (await api.delete(`/admin/resources/${enc(id)}`), { deleted: id })));
  resources
    .command('rotate-secret')
    .description('replace the registration secret; prints the new one once. The old one keeps working for the overlap')
    .argument('<id>', 'resource server id')
    .addOption(
      new Option('--overlap <duration>', 'how long the old secret stays valid: seconds or 90s, 15m, 24h, 7d (default 24h; 0 revokes it at once; at most 30d)').argParser(
        duration,
      ),
    )
    .action((id: string, opts: Opts) => {
      const body = opts.overlap === undefined ? undefined : { overlap_seconds: opts.overlap };
      admin((api) => api.post(`/admin/resources/${enc(id)}/secret`, body));
    });

  const clients = program.command('clients').description('OAuth clients: pre-registered, dynamic and metadata-document clients');
  clients
    .command('create')
    .description('pre-register a client (RFC 7591 metadata); prints its secret once')
    .addOption(new Option('--redirect-uri <uri>', 'a redirect URI (repeat for several)').argParser(urlList))
    .addOption(new Option('--name <name>', 'client_name').argParser(nonEmpty))
    .addOption(new Option('--auth-method <method>', 'token_endpoint_auth_method').choices(['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt']))
    .addOption(new Option('--jwks-uri <url>', 'private_key_jwt: the https URL where the client publishes its public keys (or give jwks in --metadata)'))
    .addOption(new Option('--grant-types <list>', 'authorization_code,refresh_token,client_credentials (client_credentials alone: a machine-to-machine client, no --redirect-uri)').argParser(list))
    .addOption(new Option('--scope <scopes>', 'space-separated scopes the client may ask for'))
    .addOption(new Option('--metadata <json>', 'the whole RFC 7591 metadata as a JSON object, instead of the options above').argParser(jsonObject('a JSON object of RFC 7591 client metadata')))
    .action((opts: Opts) => {
      const body = clientInput(opts);
      admin((api) => api.post('/admin/clients', body));
    });
  clients.command('list').description('list clients').action(() => admin((api) => api.get('/admin/clients')));
  clients
    .command('delete')
    .description('delete a client and its grants')
    .argument('<client-id>')
    .action((clientId: string) => admin(async (api) => (await api.delete(`/admin/clients/${enc(clientId)}`), { deleted: clientId })));
  clients
    .command('revoke-grants')
    .description('revoke every live grant of a client and forget the consents given to it')
    .argument('<client-id>')
    .action((clientId: string) => admin((api) => api.delete(`/admin/clients/${enc(clientId)}/grants`)));

  const clientCredentials = clients
    .command('client-credentials')
    .description('machine-to-machine access: the resource servers a confidential client may get tokens for without a user')
    .addHelpText('after', '\nRESOURCE is a resource server id or its URL (the tokens\' aud).');
  clientCredentials
    .command('list')
    .description('the resource servers a client is allowed the client credentials grant for, with the scopes')
    .argument('<client-id>')
    .action((clientId: string) => admin((api) => api.get(`/admin/clients/${enc(clientId)}/client-credentials`)));
  clientCredentials
    .command('allow')
    .description('allow a confidential client the client credentials grant for a resource server, or set its scopes (removing a scope ends the tokens issued before)')
    .argument('<client-id>')
    .argument('<resource>', 'a resource server id or URL')
    .addOption(new Option('--scopes <list>', 'the scopes it may get, comma-separated').argParser(list).makeOptionMandatory())
    .action((clientId: string, resource: string, opts: Opts) =>
      admin(async (api) => api.put(`/admin/clients/${enc(clientId)}/client-credentials/${await resolveResource(api, resource)}`, { scopes: opts.scopes })),
    );
  clientCredentials
    .command('remove')
    .description('take the client credentials grant for a resource server away; the tokens issued under it stop being active')
    .argument('<client-id>')
    .argument('<resource>', 'a resource server id or URL')
    .action((clientId: string, resource: string) =>
      admin(async (api) => {
        const id = await resolveResource(api, resource);
        await api.delete(`/admin/clients/${enc(clientId)}/client-credentials/${id}`);
        return { removed: { client_id: clientId, resource_id: id } };
      }),
    );

  const initialTokens = program.command('initial-access-tokens').description('tokens that let a client call POST /register (RFC 7591 §3)');
  initialTokens
    .command('create')
    .description('create one; the token is printed once')
    .addOption(new Option('--description <text>').argParser(nonEmpty))
    .addOption(new Option('--max-registrations <n>', 'how many clients it may register (default: no limit)').argParser(wholeNumber))
    .addOption(new Option('--expires-in <seconds>', 'lifetime (default: until revoked)').argParser(wholeNumber))
    .action((opts: Opts) => {
      const body = definedOnly({ description: opts.description, max_registrations: opts.maxRegistrations, expires_in: opts.expiresIn });
      admin((api) => api.post('/admin/initial-access-tokens', body));
    });
  initialTokens.command('list').description('list them (never the tokens themselves)').action(() => admin((api) => api.get('/admin/initial-access-tokens')));
  initialTokens
    .command('revoke')
    .description('revoke one (clients it registered stay)')
    .argument('<id>')
    .action((id: string) =>
      admin(async (api) => {
        await api.delete(`/admin/initial-access-tokens/${enc(id)}`);
        const all = (await api.get('/admin/initial-access-tokens')) as Array<{ id: string }>;
        return all.find((token) => token.id === id) ?? { revoked: id };
      }),
    );

  const providers = program.command('identity-providers').description('OpenID Connect providers people can sign in through');
  providerOptions(
    providers
      .command('create')
      .description('configure a provider; its discovery must work with these values')
      .argument('<id>', 'short id used in URLs and identities (oidc:<id>): a-z, 0-9, -'),
    true,
  ).action(async (id: string, opts: Opts) => {
    const body = { id, ...(await providerInput(opts)) };
    admin((api) => api.post('/admin/identity-providers', body));
  });
  providers.command('list').description('list providers').action(() => admin((api) => api.get('/admin/identity-providers')));
  providers
    .command('get')
    .description('show one provider')
    .argument('<id>')
    .action((id: string) => admin((api) => api.get(`/admin/identity-providers/${enc(id)}`)));
  providerOptions(providers.command('update').description('change a provider (only the options given)').argument('<id>'), false).action(async (id: string, opts: Opts) => {
    const body = await providerInput(opts);
    if (Object.keys(body).length === 0) throw new UsageError('identity-providers update: give at least one option to change (see --help)');
    admin((api) => api.patch(`/admin/identity-providers/${enc(id)}`, body));
  });
  providers
    .command('delete')
    .description('remove a provider (its identities and users stay)')
    .argument('<id>')
    .action((id: string) => admin(async (api) => (await api.delete(`/admin/identity-providers/${enc(id)}`), { deleted: id })));

  const users = program
    .command('users')
    .description('the people who signed in')
    .addHelpText('after', '\nUSER is a user id, PROVIDER:LOGIN (github:octocat, oidc:corp:jane), or an email address.');
  users
    .command('find')
    .description('find users (newest first, at most 100); every filter given must match')
    .argument('[text]', "a prefix of a login, email or name (any case), a provider's subject (a product's own user id), or a user id")
    .addOption(new Option('--login <login>', 'a login, exactly (any case)').argParser(nonEmpty))
    .addOption(new Option('--email <email>', 'an email address, exactly (any case)').argParser(nonEmpty))
    .addOption(new Option('--provider <provider>', 'github, oidc:<id> or external').argParser(nonEmpty))
    .action((text: string | undefined, opts: Opts) => {
      const query = { q: text, login: opts.login as string | undefined, email: opts.email as string | undefined, provider: opts.provider as string | undefined };
      if (Object.values(query).every((value) => value === undefined)) throw new UsageError('users find: give TEXT, --login or --email (see --help)');
      admin((api) => api.get('/admin/users', query));
    });
  const userCommand = (name: string, description: string, run: (api: AdminClient, id: string) => Promise<unknown>) =>
    users
      .command(name)
      .description(description)
      .argument('<user>', 'a user id, PROVIDER:LOGIN, or an email address')
      .action((user: string) => admin(async (api) => run(api, await resolveUser(api, user))));
  userCommand('get', 'a user with its identities, state and live grant count', (api, id) => api.get(`/admin/users/${id}`));
  userCommand('disable', 'refuse sign-in, tokens and refresh; revoke every grant and forget every consent', (api, id) => api.post(`/admin/users/${id}/disable`));
  userCommand('enable', 'let a disabled user sign in again (what was revoked stays revoked)', (api, id) => api.post(`/admin/users/${id}/enable`));
  userCommand('grants', "list a user's grants", (api, id) => api.get(`/admin/users/${id}/grants`));
  userCommand('revoke-grants', 'revoke every live grant of a user and forget the consents behind them', (api, id) => api.delete(`/admin/users/${id}/grants`));

  const operators = program
    .command('operators')
    .description('who may use the operator console (/console): admin changes things, viewer only looks')
    .addHelpText('after', '\nUSER is a user id, PROVIDER:LOGIN (github:octocat, oidc:corp:jane, dev:alice), or an email address.');
  operators.command('list').description('the operators and their roles').action(() => admin((api) => api.get('/admin/operators')));
  operators
    .command('grant')
    .description("give a user a console role, or change theirs")
    .argument('<user>', 'a user id, PROVIDER:LOGIN, or an email address')
    .addOption(new Option('--role <role>', 'admin or viewer').choices(['admin', 'viewer']).makeOptionMandatory())
    .action((user: string, opts: Opts) => admin(async (api) => api.put(`/admin/operators/${await resolveUser(api, user)}`, { role: opts.role })));
  operators
    .command('revoke')
    .description("take away a user's console role")
    .argument('<user>', 'a user id, PROVIDER:LOGIN, or an email address')
    .action((user: string) =>
      admin(async (api) => {
        const id = await resolveUser(api, user);
        await api.delete(`/admin/operators/${id}`);
        return { revoked: id };
      }),
    );

  const keys = program.command('keys').description('the signing keys');
  keys
    .command('rotate')
    .description('publish a new next key, start signing with the previous next key, retire the active one')
    .action(() => admin((api) => api.post('/admin/keys/rotate')));
  keys.command('list').description('the published keys (the JWKS)').action(() => admin((api) => api.get('/.well-known/jwks.json')));

  const migrate = program.command('migrate').description('the database schema');
  migrate.command('status').description('list applied and pending migrations; changes nothing').action(() => onJob({ kind: 'migrate', action: 'status' }));
  migrate.command('up').description('apply pending migrations (the server also does at start); with the server stopped').action(() => onJob({ kind: 'migrate', action: 'up' }));
  migrate.command('down').description('revert the newest applied migration; with the server stopped').action(() => onJob({ kind: 'migrate', action: 'down' }));

  return program;
}

function enc(segment: string): string {
  return encodeURIComponent(segment);
}

function definedOnly(input: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined));
}

/** The user a CLI argument names, as UserManagementService.resolve reads it: exactly one user must answer. */
async function resolveUser(api: AdminClient, reference: string): Promise<string> {
  if (isUuid(reference)) return reference;
  const separator = reference.lastIndexOf(':');
  const query =
    separator > 0
      ? { provider: reference.slice(0, separator), login: reference.slice(separator + 1) }
      : reference.includes('@')
        ? { email: reference }
        : { login: reference };
  const found = (await api.get('/admin/users', query)) as Array<{ id: string }>;
  if (found.length === 0) throw new AdminApiError(404, 'not_found', `no user is ${reference}`);
  if (found.length > 1) throw new AdminApiError(400, 'invalid_request', `more than one user is ${reference}; name the user by id (users find ${reference})`);
  return found[0]!.id;
}

/** A resource server id, or the id of the resource server with that URL (compared as the server stores it: canonical). */
async function resolveResource(api: AdminClient, reference: string): Promise<string> {
  if (isUuid(reference)) return reference;
  let canonical: string;
  try {
    canonical = new URL(reference).href;
  } catch {
    throw new UsageError(`${reference} is neither a resource server id nor a URL`);
  }
  const found = ((await api.get('/admin/resources')) as Array<{ id: string; resource: string }>).find((server) => server.resource === canonical);
  if (!found) throw new AdminApiError(404, 'not_found', `no resource server for ${reference}`);
  return found.id;
}

function resourceOptions(command: Command, create: boolean): Command {
  const option = (flags: string, description: string) => new Option(flags, description).makeOptionMandatory(create);
  return command
    .addOption(option('--name <name>', 'shown on the consent page').argParser(nonEmpty))
    .addOption(option('--resource <url>', "the MCP server's canonical URL (the tokens' aud); https unless loopback").argParser(absoluteUrl))
    .addOption(option('--scopes <list>', 'the scopes it knows, comma-separated').argParser(list))
    .addOption(new Option('--default-scopes <list>', 'granted when a client asks for no scope').argParser(list))
    .addOption(new Option('--access-token-ttl <seconds>').argParser(wholeNumber))
    .addOption(new Option('--refresh-token-ttl <seconds>').argParser(wholeNumber))
    .addOption(new Option('--logo-uri <url>').argParser(absoluteUrl))
    .addOption(new Option('--policy-uri <url>').argParser(absoluteUrl))
    .addOption(new Option('--tos-uri <url>').argParser(absoluteUrl))
    .addOption(new Option('--default', 'use it for requests that name no resource'))
    .addOption(new Option('--login-method <method>', "gatehouse: Gatehouse's sign-in page; external: the product's page at --login-uri").choices(['gatehouse', 'external', 'github']))
    .addOption(new Option('--login-uri <url>').argParser(absoluteUrl))
    .addOption(new Option('--consent-uri <url>', 'a product-hosted consent page').argParser(absoluteUrl))
    .addOption(new Option('--sign-in <json>', 'who may sign in, as a JSON policy: {"providers": null, "allow": {"github_organizations": ["acme"]}}'))
    .addOption(new Option('--allow-everyone', 'anyone who can sign in with an allowed provider'))
    .addOption(new Option('--allow-github-users <list>').argParser(list))
    .addOption(new Option('--allow-github-orgs <list>').argParser(list))
    .addOption(new Option('--allow-github-teams <list>', 'org/team-slug, comma-separated').argParser(list))
    .addOption(new Option('--allow-email-domains <list>', 'acme.com, or *.acme.com for its subdomains').argParser(list))
    .addOption(new Option('--allow-oidc-groups <list>').argParser(list))
    .addOption(new Option('--sign-in-providers <list>', 'github, oidc:<id>, dev; default: every configured provider').argParser(list))
    .addOption(new Option('--identity-claims <list>', 'preferred_username,name,email,email_verified,groups,idp').argParser(list))
    .addOption(
      new Option('--scope-description <scope=text>', 'shown on the consent page beside the scope; repeat for each scope')
        .argParser(scopeDescription)
        .conflicts('clearScopeDescriptions'),
    )
    .addOption(new Option('--clear-scope-descriptions', 'remove every scope description (update)'))
    .addHelpText('after', '\nWho may sign in: nobody until a policy is set; on update, --sign-in or --allow-* replace the whole policy.');
}

function resourceInput(opts: Opts): Record<string, unknown> {
  const branding = definedOnly({ logo_uri: opts.logoUri, policy_uri: opts.policyUri, tos_uri: opts.tosUri });
  return definedOnly({
    name: opts.name,
    resource: opts.resource,
    scopes: opts.scopes,
    default_scopes: opts.defaultScopes,
    access_token_ttl: opts.accessTokenTtl,
    refresh_token_ttl: opts.refreshTokenTtl,
    branding: Object.keys(branding).length ? branding : undefined,
    is_default: opts.default,
    login_method: opts.loginMethod,
    login_uri: opts.loginUri,
    consent_uri: opts.consentUri,
    sign_in: signInInput(opts),
    identity_claims: opts.identityClaims,
    // Given at all, the descriptions replace the stored map, as in the admin API.
    scope_descriptions: opts.clearScopeDescriptions ? {} : opts.scopeDescription,
  });
}

/** `--sign-in` as JSON, or the policy the `--allow-*` flags spell; the admin API checks it by its own rules. */
function signInInput(opts: Opts): unknown {
  const rules = definedOnly({
    github_users: opts.allowGithubUsers,
    github_organizations: opts.allowGithubOrgs,
    github_teams: opts.allowGithubTeams,
    email_domains: opts.allowEmailDomains,
    oidc_groups: opts.allowOidcGroups,
  });
  const ruleFlags = Object.keys(rules).length > 0;
  const providers = opts.signInProviders as string[] | undefined;
  if (opts.signIn !== undefined) {
    if (ruleFlags || opts.allowEveryone || providers) throw new UsageError('--sign-in replaces the --allow-* and --sign-in-providers flags; use one or the other');
    try {
      return JSON.parse(opts.signIn as string) as unknown;
    } catch {
      throw new UsageError('--sign-in must be a JSON policy: {"providers": null, "allow": {"github_organizations": ["acme"]}}');
    }
  }
  if (opts.allowEveryone && ruleFlags) throw new UsageError('--allow-everyone cannot be combined with other --allow-* flags');
  if (!opts.allowEveryone && !ruleFlags && !providers) return undefined;
  return { providers: providers ?? null, allow: opts.allowEveryone ? 'everyone' : rules };
}

function clientInput(opts: Opts): Record<string, unknown> {
  const fields = definedOnly({
    redirect_uris: opts.redirectUri,
    client_name: opts.name,
    token_endpoint_auth_method: opts.authMethod,
    jwks_uri: opts.jwksUri,
    grant_types: opts.grantTypes,
    scope: opts.scope,
  });
  if (opts.metadata !== undefined) {
    if (Object.keys(fields).length) throw new UsageError('--metadata replaces the other options; use one or the other');
    return opts.metadata as Record<string, unknown>;
  }
  const machineOnly = Array.isArray(fields.grant_types) && fields.grant_types.length > 0 && fields.grant_types.every((type) => type === 'client_credentials');
  if (!fields.redirect_uris && !machineOnly) throw new UsageError('clients create: give --redirect-uri (or --metadata)');
  return fields;
}

function providerOptions(command: Command, create: boolean): Command {
  const option = (flags: string, description: string) => new Option(flags, description).makeOptionMandatory(create);
  return command
    .addOption(option('--name <name>', 'shown on the sign-in page: "Continue with <name>"').argParser(nonEmpty))
    .addOption(option('--issuer <url>', 'the issuer; its /.well-known/openid-configuration must answer').argParser(httpUrl))
    .addOption(option('--client-id <id>', 'the client id Gatehouse has at the provider').argParser(nonEmpty))
    .addOption(option('--client-secret-file <path>', 'a file holding the client secret, - for stdin (never on the command line)'))
    .addOption(new Option('--scopes <list>', 'default openid,email,profile').argParser(list))
    .addOption(new Option('--groups-claim <claim>', "the claim that lists the person's groups").argParser(nonEmpty));
}

/** The client secret comes from a file or stdin: a command line is visible to other users (ps) and kept in shell history. */
async function providerInput(opts: Opts): Promise<Record<string, unknown>> {
  const secretFile = opts.clientSecretFile as string | undefined;
  let secret: string | undefined;
  if (secretFile !== undefined) {
    const text = secretFile === '-' ? await readStdin() : await readFile(secretFile, 'utf8').catch(() => {
      throw new UsageError(`--client-secret-file: cannot read ${secretFile}`);
    });
    secret = text.replace(/\r?\n$/, '');
  }
  return definedOnly({
    display_name: opts.name,
    issuer: opts.issuer,
    client_id: opts.clientId,
    client_secret: secret,
    scopes: opts.scopes,
    groups_claim: opts.groupsClaim,
  });
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
