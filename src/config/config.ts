import 'reflect-metadata';
import { plainToInstance } from 'class-transformer';
import { IsIn, IsOptional, IsString, IsUrl, Matches, MinLength, validateSync } from 'class-validator';
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { isLoopbackHost } from '../common/urls.js';
import type { LogLevel } from '../common/logger.js';
import { RATE_LIMIT_DEFAULTS, RATE_LIMIT_POLICY_NAMES, type RateLimitPolicy } from './rate-limit-budgets.js';

/** `<requests>/<window>` with the window in s, m or h (`300/1m`), or `off`. */
const RATE_LIMIT_PATTERN = /^(?:\d{1,7}\/\d{1,5}[smh]|off)$/;
const RATE_LIMIT_MESSAGE = 'must be <requests>/<window> with the window in s, m or h (e.g. 300/1m), or off';
const HTTP_URL = 'must be an http(s) URL';
const TRUE_OR_FALSE = { message: 'must be true or false' };
const ON_OR_OFF = { message: 'must be on or off' };
const HOSTS = ['127.0.0.1', '0.0.0.0', '::', '::1', 'localhost'];
const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'];
/** The JWS algorithms Gatehouse signs access tokens with (SIGNING_ALG): RFC 7518 ES256 and RS256, RFC 8037 EdDSA (Ed25519). */
export const SIGNING_ALGS = ['ES256', 'RS256', 'EdDSA'] as const;
export type SigningAlg = (typeof SIGNING_ALGS)[number];
/**
 * DPOP_NONCE: whether a DPoP proof at /token must carry a server nonce (RFC 9449 §8). Named for what a client must
 * do rather than `on`, so that a mode which only offers nonces could be added without renaming.
 */
export const DPOP_NONCE_MODES = ['off', 'required'] as const;
export type DpopNonceMode = (typeof DPOP_NONCE_MODES)[number];

/**
 * The environment as Gatehouse reads it. This file is the only place that touches process.env.
 * Each decorator's message is what the variable must be; loadConfig puts the variable's name before it and what
 * was given after it. Numbers are plain strings here: their ranges and units live with their defaults below.
 */
class EnvironmentVariables {
  @IsOptional() @IsString()
  PORT?: string;

  @IsOptional() @IsIn(HOSTS, { message: `must be one of ${HOSTS.join(', ')}` })
  HOST?: string;

  @IsOptional() @IsUrl({ require_tld: false, require_protocol: true, protocols: ['http', 'https'] }, { message: `${HTTP_URL} such as https://auth.example.com` })
  ISSUER?: string;

  @IsOptional() @Matches(/^postgres(ql)?:\/\//, { message: 'must be a postgres:// or postgresql:// URL' })
  DATABASE_URL?: string;

  @IsOptional() @IsIn(['on', 'off'], ON_OR_OFF)
  DATABASE_PREPARED_STATEMENTS?: string;

  @IsOptional() @IsString() DATABASE_CONNECT_TIMEOUT_S?: string;
  @IsOptional() @IsString() DATABASE_QUERY_TIMEOUT_MS?: string;
  @IsOptional() @IsString() DATABASE_POOL_IDLE_S?: string;

  @IsOptional() @IsString()
  DATA_DIR?: string;

  @IsOptional() @MinLength(32, { message: 'must be at least 32 characters' })
  ADMIN_TOKEN?: string;

  @IsOptional() @IsString()
  GITHUB_CLIENT_ID?: string;

  @IsOptional() @IsString()
  GITHUB_CLIENT_SECRET?: string;

  @IsOptional() @IsUrl({ require_tld: false, require_protocol: true, protocols: ['http', 'https'] }, { message: HTTP_URL })
  GITHUB_AUTHORIZATION_URL?: string;

  @IsOptional() @IsUrl({ require_tld: false, require_protocol: true, protocols: ['http', 'https'] }, { message: HTTP_URL })
  GITHUB_TOKEN_URL?: string;

  @IsOptional() @IsUrl({ require_tld: false, require_protocol: true, protocols: ['http', 'https'] }, { message: HTTP_URL })
  GITHUB_USER_PROFILE_URL?: string;

  @IsOptional() @MinLength(32, { message: 'must be at least 32 characters' })
  SESSION_SECRET?: string;

  @IsOptional() @Matches(/^[A-Za-z0-9_-]{43}$|^[0-9a-fA-F]{64}$/, {
    message: 'must be 32 bytes as 64 hex characters or 43 base64url characters (e.g. `openssl rand -hex 32`)',
  })
  ENCRYPTION_KEY?: string;

  @IsOptional() @IsIn(LOG_LEVELS, { message: `must be one of ${LOG_LEVELS.join(', ')}` })
  LOG_LEVEL?: LogLevel;

  @IsOptional() @IsIn(['true', 'false'], TRUE_OR_FALSE)
  CIMD_ENABLED?: string;

  @IsOptional() @IsString()
  CIMD_ALLOWED_HOSTS?: string;

  @IsOptional() @IsString()
  CIMD_DENIED_HOSTS?: string;

  @IsOptional() @IsIn(['true', 'false'], TRUE_OR_FALSE)
  CIMD_ALLOW_LOOPBACK?: string;

  @IsOptional() @IsString()
  CIMD_EXTRA_CA_FILE?: string;

  @IsOptional() @IsString() CIMD_FETCH_TIMEOUT_MS?: string;
  @IsOptional() @IsString() CIMD_CACHE_MIN_SECONDS?: string;
  @IsOptional() @IsString() CIMD_CACHE_MAX_SECONDS?: string;
  @IsOptional() @IsString() CIMD_MAX_CLIENTS?: string;
  @IsOptional() @IsString() CIMD_UNUSED_CLIENT_HOURS?: string;
  @IsOptional() @IsString() CIMD_IDLE_CLIENT_DAYS?: string;

  @IsOptional() @IsString()
  AUDIT_LOG?: string;

  @IsOptional() @IsUrl({ require_tld: false, require_protocol: true, protocols: ['http', 'https'] }, { message: HTTP_URL })
  AUDIT_WEBHOOK_URL?: string;

  @IsOptional() @MinLength(32, { message: 'must be at least 32 characters' })
  AUDIT_WEBHOOK_SECRET?: string;

  @IsOptional() @IsString() AUDIT_WEBHOOK_TIMEOUT_MS?: string;
  @IsOptional() @IsString() AUDIT_RETRY_BASE_MS?: string;
  @IsOptional() @IsString() AUDIT_RETRY_MAX_MS?: string;
  @IsOptional() @IsString() AUDIT_POLL_INTERVAL_MS?: string;
  @IsOptional() @IsString() AUDIT_RETENTION_DAYS?: string;
  @IsOptional() @IsString() AUDIT_STREAM_HEARTBEAT_MS?: string;

  @IsOptional() @MinLength(32, { message: 'must be at least 32 characters' })
  METRICS_TOKEN?: string;

  @IsOptional() @Matches(/^rediss?:\/\//, { message: 'must be a redis:// or rediss:// URL' })
  REDIS_URL?: string;

  @IsOptional() @IsString()
  TRUSTED_PROXIES?: string;

  @IsOptional() @IsIn(['on', 'off'], ON_OR_OFF)
  RATE_LIMITS?: string;

  @IsOptional() @Matches(RATE_LIMIT_PATTERN, { message: RATE_LIMIT_MESSAGE }) RATE_LIMIT_DISCOVERY?: string;
  @IsOptional() @Matches(RATE_LIMIT_PATTERN, { message: RATE_LIMIT_MESSAGE }) RATE_LIMIT_AUTHORIZE?: string;
  @IsOptional() @Matches(RATE_LIMIT_PATTERN, { message: RATE_LIMIT_MESSAGE }) RATE_LIMIT_REGISTER?: string;
  @IsOptional() @Matches(RATE_LIMIT_PATTERN, { message: RATE_LIMIT_MESSAGE }) RATE_LIMIT_TOKEN?: string;
  @IsOptional() @Matches(RATE_LIMIT_PATTERN, { message: RATE_LIMIT_MESSAGE }) RATE_LIMIT_INTROSPECT?: string;
  @IsOptional() @Matches(RATE_LIMIT_PATTERN, { message: RATE_LIMIT_MESSAGE }) RATE_LIMIT_LOGIN_COMPLETE?: string;
  @IsOptional() @Matches(RATE_LIMIT_PATTERN, { message: RATE_LIMIT_MESSAGE }) RATE_LIMIT_MINT?: string;
  @IsOptional() @Matches(RATE_LIMIT_PATTERN, { message: RATE_LIMIT_MESSAGE }) RATE_LIMIT_ADMIN?: string;
  @IsOptional() @Matches(RATE_LIMIT_PATTERN, { message: RATE_LIMIT_MESSAGE }) RATE_LIMIT_DEFAULT?: string;

  @IsOptional() @IsString() DCR_MAX_CLIENTS?: string;
  @IsOptional() @IsString() DCR_UNUSED_CLIENT_HOURS?: string;
  @IsOptional() @IsString() DCR_IDLE_CLIENT_DAYS?: string;
  @IsOptional() @IsString() DCR_CLIENT_SECRET_DAYS?: string;

  @IsOptional() @IsIn(['true', 'false'], TRUE_OR_FALSE)
  DCR_REQUIRE_INITIAL_ACCESS_TOKEN?: string;

  @IsOptional() @IsIn(SIGNING_ALGS, { message: `must be one of ${SIGNING_ALGS.join(', ')}` })
  SIGNING_ALG?: SigningAlg;

  @IsOptional() @IsString() KEY_ROTATION_DAYS?: string;
  @IsOptional() @IsIn(['true', 'false'], TRUE_OR_FALSE)
  DYNAMIC_REGISTRATION?: string;

  @IsOptional() @IsString() KEY_RELOAD_SECONDS?: string;
  @IsOptional() @IsString() AUTHORIZATION_CODE_TTL?: string;
  @IsOptional() @IsString() REFRESH_REUSE_GRACE_SECONDS?: string;
  @IsOptional() @IsString() SHUTDOWN_GRACE_SECONDS?: string;
  @IsOptional() @IsString() ACCESS_TOKEN_CACHE_ENTRIES?: string;

  @IsOptional() @IsIn(DPOP_NONCE_MODES, { message: `must be one of ${DPOP_NONCE_MODES.join(', ')}` })
  DPOP_NONCE?: DpopNonceMode;

  @IsOptional() @IsIn(['true', 'false'], TRUE_OR_FALSE)
  DEV_LOGIN?: string;

  @IsOptional() @IsString() CONSOLE_ADMINS?: string;
}

type Variable = keyof EnvironmentVariables;

/** Never echoed back: a mistyped secret is still mostly the secret. */
const SECRET_VARIABLES: ReadonlySet<Variable> = new Set<Variable>([
  'ADMIN_TOKEN',
  'SESSION_SECRET',
  'ENCRYPTION_KEY',
  'GITHUB_CLIENT_SECRET',
  'AUDIT_WEBHOOK_SECRET',
  'METRICS_TOKEN',
  // URLs that may carry a password.
  'DATABASE_URL',
  'REDIS_URL',
]);

export interface GithubConfig {
  clientId: string;
  clientSecret: string;
  authorizationUrl: string;
  tokenUrl: string;
  userProfileUrl: string;
}

/**
 * Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document): a `client_id` that is an https URL
 * is resolved by fetching that URL. These settings bound what Gatehouse will fetch and for how long it keeps it.
 */
export interface CimdConfig {
  enabled: boolean;
  /** Host patterns (`app.example.com`, `*.example.com`); empty means every host not denied. */
  allowedHosts: string[];
  /** Host patterns never fetched from; checked before the allow-list. */
  deniedHosts: string[];
  /** Local development and tests only: lets loopback addresses through (and nothing else that is not public). */
  allowLoopback: boolean;
  /** PEM of extra certificate authorities trusted for these fetches, in addition to Node's bundled roots. */
  extraCaPem: string | null;
  /** One deadline for DNS, connect, TLS and the whole response. */
  fetchTimeoutMs: number;
  /** Bounds on how long a fetched document is used before it is fetched again, whatever its cache headers say. */
  cacheMinSeconds: number;
  cacheMaxSeconds: number;
  /** The draft's recommended cap on a document (§ Maximum Response Size); the response is aborted beyond it. */
  maxDocumentBytes: number;
  /** Most metadata-document clients recorded at once; a new document URL beyond it is refused until some expire. */
  maxClients: number;
  /** A metadata-document client never issued tokens (no grant) is deleted this long after its last use. */
  unusedClientTtlMs: number;
  /** One that was issued tokens, not used for this long and with no live refresh token, is deleted; 0 keeps them. */
  idleClientTtlMs: number;
}

/**
 * `preparedStatements`: hot statements are named prepared statements, parsed and planned once per connection
 * (DATABASE_PREPARED_STATEMENTS; off behind a pooler that cannot keep them, such as PgBouncer in transaction mode).
 * `connectTimeoutSeconds`: how long boot keeps retrying an unreachable server before the process exits
 * (DATABASE_CONNECT_TIMEOUT_S). `queryTimeoutMs`: the longest a request waits for a pooled connection and then for
 * one statement's answer (DATABASE_QUERY_TIMEOUT_MS), so an outage answers 503 instead of holding the request; 0
 * means no bound, which only migrations use. `poolIdleSeconds`: how long a pooled connection stays open unused
 * (DATABASE_POOL_IDLE_S); one closed sooner makes the next burst after a quiet spell pay for a new connection and
 * for preparing its statements again.
 */
export type DatabaseConfig =
  | { kind: 'postgres'; url: string; preparedStatements: boolean; connectTimeoutSeconds: number; queryTimeoutMs: number; poolIdleSeconds: number }
  | { kind: 'pglite'; dataDir: string };

export interface GatehouseConfig {
  /** Audit event delivery, query and retention. */
  audit: AuditConfig;
  /** Bearer token for GET /metrics; null: only loopback callers that came through no proxy. */
  metricsToken: string | null;
  port: number;
  host: string;
  /** Exactly as advertised in metadata and put in `iss`; never has a trailing slash. */
  issuer: string;
  /** Cookies get `Secure` unless the issuer is a loopback http URL (local development). */
  secureCookies: boolean;
  database: DatabaseConfig;
  dataDir: string;
  adminToken: string | undefined;
  /** Null when GitHub sign-in is not configured: the server still runs and says what to set. */
  github: GithubConfig | null;
  /** Which GitHub variables are missing, for the sign-in page. */
  githubMissing: string[];
  sessionSecret: string | undefined;
  encryptionKey: Buffer | undefined;
  logLevel: LogLevel;
  /** Largest request body accepted anywhere, in bytes. */
  maxBodyBytes: number;
  authorizationCodeTtlSeconds: number;
  interactionTtlSeconds: number;
  sessionTtlSeconds: number;
  cimd: CimdConfig;
  rateLimits: RateLimitConfig;
  registration: RegistrationConfig;
  /** Shared state for several instances (rate-limit counters); null: in-process only. */
  redisUrl: string | null;
  /**
   * Peers whose X-Forwarded-For is believed (Express `trust proxy` values: addresses, CIDRs, or loopback,
   * linklocal, uniquelocal). Empty: the socket address is the client address.
   */
  trustedProxies: string[];
  /** The algorithm new signing keys are made for; keys made for another one stay published until they retire. */
  signingAlg: SigningAlg;
  /** The active signing key is rotated once it has signed this long (milliseconds); 0: only when an operator rotates. */
  keyRotationMs: number;
  /** How often each instance re-reads the signing keys, so a rotation made elsewhere is seen. */
  keyReloadSeconds: number;
  /**
   * How long after a refresh token's rotation the same client may present it again (a retry, or a concurrent
   * duplicate) and get another successor instead of having its grant revoked; 0: every reuse revokes.
   */
  refreshReuseGraceSeconds: number;
  /** On SIGTERM, how long in-flight requests may take before the process exits anyway. */
  shutdownGraceSeconds: number;
  /** Most verified access tokens remembered so that introspecting one again skips its signature check; 0: none. */
  accessTokenCacheEntries: number;
  /** `required`: a DPoP proof at /token without a current server nonce is answered `use_dpop_nonce` (RFC 9449 §8). */
  dpopNonce: DpopNonceMode;
  /**
   * Development sign-in: anyone may type any name and sign in as it (identity provider `dev`). Only with a loopback
   * issuer, so that it cannot be switched on for a server other people reach.
   */
  devLogin: boolean;
  /**
   * Identities that become console admins when they first open the console without a role, so that a new server
   * has a first operator (`PROVIDER:LOGIN`, as the CLI names users: `github:alice`, `oidc:corp:bob`, `dev:alice`).
   */
  consoleAdmins: ConsoleAdminIdentity[];
}

/** An entry of CONSOLE_ADMINS: a provider (`github`, `oidc:<id>`, `dev`) and a login there (any case). */
export interface ConsoleAdminIdentity {
  provider: string;
  login: string;
}

/** One limit: at most `limit` requests per `windowMs` for one tracker; null means the policy is off. */
export interface RateLimit {
  limit: number;
  windowMs: number;
}

export interface RateLimitConfig {
  enabled: boolean;
  policies: Record<RateLimitPolicy, RateLimit | null>;
}

/** Dynamic client registration hygiene (RFC 7591 endpoints only; pre-registered clients never expire). */
export interface RegistrationConfig {
  /**
   * Whether POST /register exists (RFC 7591). Off: no route and no registration_endpoint in the metadata; CIMD,
   * pre-registered clients and clients registered earlier (with their RFC 7592 endpoint) keep working.
   */
  dynamicRegistration: boolean;
  /** Most dynamic clients that may exist at once; registration beyond it is refused until some expire. */
  maxDynamicClients: number;
  /** A dynamic client never used this long after registering is deleted. */
  unusedClientTtlMs: number;
  /** A dynamic client not used for this long, with no live refresh token, is deleted; 0 keeps them. */
  idleClientTtlMs: number;
  /** How long a dynamically registered client's secret is accepted (RFC 7591 client_secret_expires_at); 0: forever. */
  clientSecretTtlMs: number;
  /** Closed deployments: POST /register needs an initial access token issued by an administrator (RFC 7591 §3). */
  requireInitialAccessToken: boolean;
}

/** One thing wrong with the environment, as a sentence that starts with the variable's name. */
export interface ConfigProblem {
  variable: string;
  message: string;
}

/** Everything wrong with the environment at once, so an operator fixes it in one round. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly ConfigProblem[]) {
    super(`${problems.length} configuration error${problems.length === 1 ? '' : 's'}:\n${problems.map((problem) => `  ${problem.message}`).join('\n')}`);
    this.name = 'ConfigError';
  }

  /** The first variable at fault. */
  get variable(): string {
    return this.problems[0]?.variable ?? '';
  }
}

/** Collects problems while loadConfig carries on with defaults, so that later checks still run. */
class Problems {
  readonly list: ConfigProblem[] = [];

  /** `expected` says what the variable must be; `given`, when known, is shown unless the variable is secret. */
  add(variable: Variable, expected: string, given?: string): void {
    const shown =
      given === undefined ? '' : SECRET_VARIABLES.has(variable) ? ` (got ${given.length} characters)` : ` (got ${JSON.stringify(withoutUserinfo(given))})`;
    this.list.push({ variable, message: `${variable} ${expected}${shown}` });
  }
}

const GITHUB_DEFAULTS = {
  authorizationUrl: 'https://github.com/login/oauth/authorize',
  tokenUrl: 'https://github.com/login/oauth/access_token',
  userProfileUrl: 'https://api.github.com/user',
};

/** Parses and validates the environment once; anything wrong throws one ConfigError that lists every problem. */
export function loadConfig(env: Record<string, string | undefined> = process.env): GatehouseConfig {
  const present = Object.fromEntries(
    Object.entries(env).filter(([key, value]) => key in KNOWN_VARIABLES && value !== undefined && value !== ''),
  ) as Record<Variable, string>;
  const vars = plainToInstance(EnvironmentVariables, present, { enableImplicitConversion: false });
  const problems = new Problems();
  for (const error of validateSync(vars, { forbidUnknownValues: true })) {
    const variable = error.property as Variable;
    problems.add(variable, Object.values(error.constraints ?? {})[0] ?? 'is invalid', present[variable]);
    // Checked no further: the rest of the configuration is built as if it were unset.
    delete vars[variable];
  }
  const number = (variable: Variable, rule: NumberRule) => wholeNumber(problems, variable, vars[variable] as string | undefined, rule);

  const port = number('PORT', { fallback: 3000, min: 1, max: 65535 });
  const issuer = checkedIssuer(problems, vars.ISSUER, port);
  const issuerUrl = new URL(issuer);
  const loopbackIssuer = isLoopbackHost(issuerUrl.hostname);

  const dataDir = resolve(vars.DATA_DIR ?? './data');
  const database: DatabaseConfig = vars.DATABASE_URL
    ? {
        kind: 'postgres',
        url: vars.DATABASE_URL,
        preparedStatements: vars.DATABASE_PREPARED_STATEMENTS !== 'off',
        connectTimeoutSeconds: number('DATABASE_CONNECT_TIMEOUT_S', { fallback: 60, min: 0, max: 3600, unit: 'seconds' }),
        queryTimeoutMs: number('DATABASE_QUERY_TIMEOUT_MS', { fallback: 10_000, min: 100, max: 600_000, unit: 'milliseconds' }),
        poolIdleSeconds: number('DATABASE_POOL_IDLE_S', { fallback: 300, min: 1, max: 86_400, unit: 'seconds' }),
      }
    : { kind: 'pglite', dataDir: resolve(dataDir, 'pglite') };

  const encryptionKey = vars.ENCRYPTION_KEY ? decodeKey(vars.ENCRYPTION_KEY) : undefined;
  if (database.kind === 'postgres' && !encryptionKey && present.ENCRYPTION_KEY === undefined) {
    // On a shared database every instance must hold the same key; generating one per process would lose data.
    problems.add('ENCRYPTION_KEY', 'is required when DATABASE_URL is set (32 random bytes, e.g. `openssl rand -hex 32`)');
  }

  const githubMissing = (['GITHUB_CLIENT_ID', 'GITHUB_CLIENT_SECRET'] as const).filter((name) => !vars[name]);
  const github: GithubConfig | null =
    vars.GITHUB_CLIENT_ID && vars.GITHUB_CLIENT_SECRET
      ? {
          clientId: vars.GITHUB_CLIENT_ID,
          clientSecret: vars.GITHUB_CLIENT_SECRET,
          authorizationUrl: vars.GITHUB_AUTHORIZATION_URL ?? GITHUB_DEFAULTS.authorizationUrl,
          tokenUrl: vars.GITHUB_TOKEN_URL ?? GITHUB_DEFAULTS.tokenUrl,
          userProfileUrl: vars.GITHUB_USER_PROFILE_URL ?? GITHUB_DEFAULTS.userProfileUrl,
        }
      : null;

  const devLogin = vars.DEV_LOGIN === 'true';
  if (devLogin && !loopbackIssuer) {
    problems.add('DEV_LOGIN', 'is accepted only when the ISSUER host is loopback (localhost, 127.0.0.1, [::1]): it lets anyone sign in as anyone');
  }

  const config: GatehouseConfig = {
    port,
    audit: auditConfig(problems, vars),
    metricsToken: vars.METRICS_TOKEN ?? null,
    // With development sign-in, only this computer should reach the server unless HOST says otherwise.
    host: vars.HOST ?? (devLogin ? '127.0.0.1' : '0.0.0.0'),
    issuer,
    secureCookies: !(loopbackIssuer && issuerUrl.protocol === 'http:'),
    database,
    dataDir,
    adminToken: vars.ADMIN_TOKEN,
    github,
    githubMissing,
    sessionSecret: vars.SESSION_SECRET,
    encryptionKey,
    logLevel: vars.LOG_LEVEL ?? 'info',
    maxBodyBytes: 64 * 1024,
    // OAuth 2.1 §4.1.2 recommends at most 10 minutes; below 10 s a slow client or clock would lose its code.
    authorizationCodeTtlSeconds: number('AUTHORIZATION_CODE_TTL', { fallback: 60, min: 10, max: 600, unit: 'seconds' }),
    interactionTtlSeconds: 600,
    sessionTtlSeconds: 12 * 3600,
    cimd: cimdConfig(problems, vars),
    rateLimits: rateLimitConfig(problems, vars),
    registration: registrationConfig(problems, vars),
    redisUrl: vars.REDIS_URL ?? null,
    trustedProxies: trustedProxies(problems, vars.TRUSTED_PROXIES),
    signingAlg: vars.SIGNING_ALG ?? 'ES256',
    keyRotationMs: number('KEY_ROTATION_DAYS', { fallback: 0, min: 0, max: 3650, unit: 'days' }) * 86_400_000,
    keyReloadSeconds: number('KEY_RELOAD_SECONDS', { fallback: 30, min: 1, max: 3600, unit: 'seconds' }),
    refreshReuseGraceSeconds: number('REFRESH_REUSE_GRACE_SECONDS', { fallback: 30, min: 0, max: 300, unit: 'seconds' }),
    shutdownGraceSeconds: number('SHUTDOWN_GRACE_SECONDS', { fallback: 10, min: 0, max: 3600, unit: 'seconds' }),
    accessTokenCacheEntries: number('ACCESS_TOKEN_CACHE_ENTRIES', { fallback: 10_000, min: 0, max: 1_000_000 }),
    dpopNonce: vars.DPOP_NONCE ?? 'off',
    devLogin,
    consoleAdmins: consoleAdmins(problems, vars.CONSOLE_ADMINS),
  };
  if (problems.list.length > 0) throw new ConfigError(problems.list);
  return config;
}

/** A URL's user and password are replaced, so that a value shown back never carries a password. */
function withoutUserinfo(value: string): string {
  return value.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, '$1***@');
}

/** The issuer without trailing slashes; on a problem, the default one, so that the other checks still run. */
function checkedIssuer(problems: Problems, value: string | undefined, port: number): string {
  const fallback = `http://localhost:${port}`;
  if (value === undefined) return fallback;
  const issuer = value.replace(/\/+$/, '');
  const url = new URL(issuer);
  const before = problems.list.length;
  if (url.protocol !== 'https:' && !isLoopbackHost(url.hostname)) {
    problems.add('ISSUER', 'must be an https URL unless its host is loopback (localhost, 127.0.0.1, [::1])', value);
  }
  if (url.search || url.hash || url.username || url.password) {
    problems.add('ISSUER', 'must not carry a query, a fragment or credentials (RFC 8414 §2)', value);
  } else if (url.pathname !== '/') {
    // Every route, including /.well-known/*, is served at the root; an issuer with a path would advertise URLs
    // that only work behind a path-stripping proxy, and RFC 8414's path-inserted metadata URL would 404.
    problems.add('ISSUER', 'must be an origin without a path (e.g. https://auth.example.com)', value);
  }
  return problems.list.length === before ? issuer : fallback;
}

const RATE_LIMIT_VARIABLES: Record<RateLimitPolicy, Variable> = {
  discovery: 'RATE_LIMIT_DISCOVERY',
  authorize: 'RATE_LIMIT_AUTHORIZE',
  register: 'RATE_LIMIT_REGISTER',
  token: 'RATE_LIMIT_TOKEN',
  introspect: 'RATE_LIMIT_INTROSPECT',
  login_complete: 'RATE_LIMIT_LOGIN_COMPLETE',
  mint: 'RATE_LIMIT_MINT',
  admin: 'RATE_LIMIT_ADMIN',
  default: 'RATE_LIMIT_DEFAULT',
};

const WINDOW_UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000 } as const;

function rateLimitConfig(problems: Problems, vars: EnvironmentVariables): RateLimitConfig {
  const policies = {} as Record<RateLimitPolicy, RateLimit | null>;
  for (const policy of RATE_LIMIT_POLICY_NAMES) {
    const variable = RATE_LIMIT_VARIABLES[policy];
    const value = vars[variable] as string | undefined;
    policies[policy] = value === 'off' ? null : { ...RATE_LIMIT_DEFAULTS[policy] };
    if (value === undefined || value === 'off') continue;
    const [, limit, amount, unit] = /^(\d+)\/(\d+)([smh])$/.exec(value)!;
    const windowMs = Number(amount) * WINDOW_UNIT_MS[unit as keyof typeof WINDOW_UNIT_MS];
    if (Number(limit) < 1 || windowMs < 1000 || windowMs > 86_400_000) {
      problems.add(variable, 'must allow at least 1 request in a window from 1s to 24h (e.g. 300/1m), or be off', value);
      continue;
    }
    policies[policy] = { limit: Number(limit), windowMs };
  }
  return { enabled: vars.RATE_LIMITS !== 'off', policies };
}

function registrationConfig(problems: Problems, vars: EnvironmentVariables): RegistrationConfig {
  return {
    dynamicRegistration: vars.DYNAMIC_REGISTRATION !== 'false',
    maxDynamicClients: wholeNumber(problems, 'DCR_MAX_CLIENTS', vars.DCR_MAX_CLIENTS, { fallback: 10_000, min: 1, max: 100_000_000 }),
    unusedClientTtlMs: wholeNumber(problems, 'DCR_UNUSED_CLIENT_HOURS', vars.DCR_UNUSED_CLIENT_HOURS, { fallback: 24, min: 1, max: 24 * 365, unit: 'hours' }) * 3_600_000,
    idleClientTtlMs: wholeNumber(problems, 'DCR_IDLE_CLIENT_DAYS', vars.DCR_IDLE_CLIENT_DAYS, { fallback: 90, min: 0, max: 36_500, unit: 'days' }) * 86_400_000,
    clientSecretTtlMs: wholeNumber(problems, 'DCR_CLIENT_SECRET_DAYS', vars.DCR_CLIENT_SECRET_DAYS, { fallback: 0, min: 0, max: 3650, unit: 'days' }) * 86_400_000,
    requireInitialAccessToken: vars.DCR_REQUIRE_INITIAL_ACCESS_TOKEN === 'true',
  };
}

/** Split at the last colon, as the CLI splits a PROVIDER:LOGIN user reference. */
function consoleAdmins(problems: Problems, value: string | undefined): ConsoleAdminIdentity[] {
  const entries = (value ?? '').split(',').map((entry) => entry.trim()).filter(Boolean);
  const admins: ConsoleAdminIdentity[] = [];
  for (const entry of entries) {
    const separator = entry.lastIndexOf(':');
    if (separator <= 0 || separator === entry.length - 1) {
      problems.add('CONSOLE_ADMINS', 'must be a comma-separated list of PROVIDER:LOGIN such as github:alice or oidc:corp:bob', entry);
      return [];
    }
    admins.push({ provider: entry.slice(0, separator), login: entry.slice(separator + 1) });
  }
  return admins;
}

const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

function trustedProxies(problems: Problems, value: string | undefined): string[] {
  const entries = (value ?? '').split(',').map((entry) => entry.trim()).filter(Boolean);
  for (const entry of entries) {
    if (PROXY_NAMES.has(entry)) continue;
    const [address, prefix, extra] = entry.split('/');
    const family = isIP(address ?? '');
    const maxPrefix = family === 4 ? 32 : 128;
    const prefixOk = prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= maxPrefix);
    if (family === 0 || !prefixOk || extra !== undefined) {
      problems.add('TRUSTED_PROXIES', 'must be a comma-separated list of addresses, CIDR ranges, or loopback, linklocal, uniquelocal', entry);
      return [];
    }
  }
  return entries;
}

/** `app.example.com`, `*.example.com` (any subdomain, not the apex), an IPv4 address, or a bracketed IPv6 one. */
const HOST_PATTERN = /^(\*\.)?[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$|^\[[0-9a-f:.]+\]$/;

function hostPatterns(problems: Problems, variable: 'CIMD_ALLOWED_HOSTS' | 'CIMD_DENIED_HOSTS', value: string | undefined): string[] {
  const patterns = (value ?? '').split(',').map((pattern) => pattern.trim().toLowerCase()).filter(Boolean);
  const bad = patterns.find((pattern) => !HOST_PATTERN.test(pattern));
  if (bad === undefined) return patterns;
  problems.add(variable, 'must be comma-separated host patterns such as app.example.com or *.example.com', bad);
  return [];
}

interface NumberRule {
  fallback: number;
  min: number;
  max: number;
  /** Said in the message: `a whole number of <unit> from …`; without it, `an integer from …`. */
  unit?: 'seconds' | 'milliseconds' | 'hours' | 'days';
}

/** Digits only (no sign, fraction, exponent or spaces), within [min, max]; on a problem, the fallback. */
function wholeNumber(problems: Problems, variable: Variable, value: string | undefined, { fallback, min, max, unit }: NumberRule): number {
  if (value === undefined) return fallback;
  const number = /^\d{1,10}$/.test(value) ? Number(value) : Number.NaN;
  if (number >= min && number <= max) return number;
  problems.add(variable, `must be ${unit ? `a whole number of ${unit}` : 'an integer'} from ${min} to ${max}`, value);
  return fallback;
}

function cimdConfig(problems: Problems, vars: EnvironmentVariables): CimdConfig {
  const number = (variable: Variable, rule: NumberRule) => wholeNumber(problems, variable, vars[variable] as string | undefined, rule);
  const cacheMinSeconds = number('CIMD_CACHE_MIN_SECONDS', { fallback: 300, min: 0, max: 7 * 86400, unit: 'seconds' });
  let cacheMaxSeconds = number('CIMD_CACHE_MAX_SECONDS', { fallback: 86400, min: 0, max: 7 * 86400, unit: 'seconds' });
  if (cacheMaxSeconds < cacheMinSeconds) {
    problems.add('CIMD_CACHE_MAX_SECONDS', `must not be less than CIMD_CACHE_MIN_SECONDS (${cacheMinSeconds})`, String(cacheMaxSeconds));
    cacheMaxSeconds = cacheMinSeconds;
  }
  return {
    enabled: vars.CIMD_ENABLED !== 'false',
    allowedHosts: hostPatterns(problems, 'CIMD_ALLOWED_HOSTS', vars.CIMD_ALLOWED_HOSTS),
    deniedHosts: hostPatterns(problems, 'CIMD_DENIED_HOSTS', vars.CIMD_DENIED_HOSTS),
    allowLoopback: vars.CIMD_ALLOW_LOOPBACK === 'true',
    extraCaPem: vars.CIMD_EXTRA_CA_FILE === undefined ? null : readCaFile(problems, vars.CIMD_EXTRA_CA_FILE),
    fetchTimeoutMs: number('CIMD_FETCH_TIMEOUT_MS', { fallback: 5000, min: 50, max: 60_000, unit: 'milliseconds' }),
    cacheMinSeconds,
    cacheMaxSeconds,
    maxDocumentBytes: 5 * 1024,
    maxClients: number('CIMD_MAX_CLIENTS', { fallback: 10_000, min: 1, max: 100_000_000 }),
    unusedClientTtlMs: number('CIMD_UNUSED_CLIENT_HOURS', { fallback: 24, min: 1, max: 24 * 365, unit: 'hours' }) * 3_600_000,
    idleClientTtlMs: number('CIMD_IDLE_CLIENT_DAYS', { fallback: 90, min: 0, max: 36_500, unit: 'days' }) * 86_400_000,
  };
}

/** Read once at boot, so a missing or malformed file stops the process instead of failing every fetch later. */
function readCaFile(problems: Problems, path: string): string | null {
  let pem: string;
  try {
    pem = readFileSync(resolve(path), 'utf8');
  } catch (error) {
    problems.add('CIMD_EXTRA_CA_FILE', `must be a readable PEM file (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`, path);
    return null;
  }
  const certificates = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (certificates.length === 0) {
    problems.add('CIMD_EXTRA_CA_FILE', 'must hold at least one PEM certificate, and this file holds none', path);
    return null;
  }
  for (const certificate of certificates) {
    try {
      new X509Certificate(certificate);
    } catch {
      problems.add('CIMD_EXTRA_CA_FILE', 'must hold PEM certificates that parse, and one of these does not', path);
      return null;
    }
  }
  return pem;
}

/** Where and how audit events are delivered (see docs/audit-events.md). */
export interface AuditConfig {
  /** JSON lines of events: to stdout, appended to a file, or not at all. */
  log: { kind: 'stdout' } | { kind: 'file'; path: string } | { kind: 'off' };
  /** The global webhook; null when AUDIT_WEBHOOK_URL is unset. */
  webhook: { url: string; secret: string; timeoutMs: number } | null;
  /** Exponential backoff between failed deliveries: base × 2^(attempt−1), capped, with jitter. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** How often sinks and streams look for events committed by other instances. */
  pollIntervalMs: number;
  /** Events older than this are pruned once every sink has delivered them; 0 keeps them forever. */
  retentionDays: number;
  streamHeartbeatMs: number;
}

function auditConfig(problems: Problems, vars: EnvironmentVariables): AuditConfig {
  const number = (variable: Variable, rule: NumberRule) => wholeNumber(problems, variable, vars[variable] as string | undefined, rule);
  const log: AuditConfig['log'] =
    vars.AUDIT_LOG === undefined || vars.AUDIT_LOG === 'stdout'
      ? { kind: 'stdout' }
      : vars.AUDIT_LOG === 'off'
        ? { kind: 'off' }
        : { kind: 'file', path: resolve(vars.AUDIT_LOG) };
  let webhook: AuditConfig['webhook'] = null;
  if (vars.AUDIT_WEBHOOK_URL !== undefined) {
    const url = new URL(vars.AUDIT_WEBHOOK_URL);
    const timeoutMs = number('AUDIT_WEBHOOK_TIMEOUT_MS', { fallback: 10_000, min: 100, max: 120_000, unit: 'milliseconds' });
    // Events name users, clients and addresses: they travel encrypted unless the receiver is on this machine.
    if (url.username || url.password || url.hash) {
      problems.add('AUDIT_WEBHOOK_URL', 'must not carry credentials or a fragment');
    } else if (url.protocol !== 'https:' && !isLoopbackHost(url.hostname)) {
      problems.add('AUDIT_WEBHOOK_URL', 'must be an https URL unless its host is loopback', vars.AUDIT_WEBHOOK_URL);
    } else if (!vars.AUDIT_WEBHOOK_SECRET) {
      // A secret that failed validation has already been reported.
      if (!problems.list.some((problem) => problem.variable === 'AUDIT_WEBHOOK_SECRET')) {
        problems.add('AUDIT_WEBHOOK_SECRET', 'is required when AUDIT_WEBHOOK_URL is set (at least 32 characters; deliveries are signed with it)');
      }
    } else {
      webhook = { url: url.href, secret: vars.AUDIT_WEBHOOK_SECRET, timeoutMs };
    }
  } else if (vars.AUDIT_WEBHOOK_SECRET !== undefined && !problems.list.some((problem) => problem.variable === 'AUDIT_WEBHOOK_URL')) {
    problems.add('AUDIT_WEBHOOK_SECRET', 'is set but AUDIT_WEBHOOK_URL is not');
  }
  const retryBaseMs = number('AUDIT_RETRY_BASE_MS', { fallback: 1000, min: 1, max: 3_600_000, unit: 'milliseconds' });
  let retryMaxMs = number('AUDIT_RETRY_MAX_MS', { fallback: 300_000, min: 1, max: 86_400_000, unit: 'milliseconds' });
  if (retryMaxMs < retryBaseMs) {
    problems.add('AUDIT_RETRY_MAX_MS', `must not be less than AUDIT_RETRY_BASE_MS (${retryBaseMs})`, String(retryMaxMs));
    retryMaxMs = retryBaseMs;
  }
  return {
    log,
    webhook,
    retryBaseMs,
    retryMaxMs,
    pollIntervalMs: number('AUDIT_POLL_INTERVAL_MS', { fallback: 1000, min: 10, max: 60_000, unit: 'milliseconds' }),
    retentionDays: number('AUDIT_RETENTION_DAYS', { fallback: 90, min: 0, max: 36_500, unit: 'days' }),
    streamHeartbeatMs: number('AUDIT_STREAM_HEARTBEAT_MS', { fallback: 15_000, min: 100, max: 300_000, unit: 'milliseconds' }),
  };
}

const KNOWN_VARIABLES: Record<Variable, true> = {
  AUDIT_LOG: true,
  AUDIT_WEBHOOK_URL: true,
  AUDIT_WEBHOOK_SECRET: true,
  AUDIT_WEBHOOK_TIMEOUT_MS: true,
  AUDIT_RETRY_BASE_MS: true,
  AUDIT_RETRY_MAX_MS: true,
  AUDIT_POLL_INTERVAL_MS: true,
  AUDIT_RETENTION_DAYS: true,
  AUDIT_STREAM_HEARTBEAT_MS: true,
  METRICS_TOKEN: true,
  PORT: true,
  HOST: true,
  ISSUER: true,
  DATABASE_URL: true,
  DATABASE_PREPARED_STATEMENTS: true,
  DATABASE_CONNECT_TIMEOUT_S: true,
  DATABASE_QUERY_TIMEOUT_MS: true,
  DATABASE_POOL_IDLE_S: true,
  DATA_DIR: true,
  ADMIN_TOKEN: true,
  GITHUB_CLIENT_ID: true,
  GITHUB_CLIENT_SECRET: true,
  GITHUB_AUTHORIZATION_URL: true,
  GITHUB_TOKEN_URL: true,
  GITHUB_USER_PROFILE_URL: true,
  SESSION_SECRET: true,
  ENCRYPTION_KEY: true,
  LOG_LEVEL: true,
  CIMD_ENABLED: true,
  CIMD_ALLOWED_HOSTS: true,
  CIMD_DENIED_HOSTS: true,
  CIMD_ALLOW_LOOPBACK: true,
  CIMD_EXTRA_CA_FILE: true,
  CIMD_FETCH_TIMEOUT_MS: true,
  CIMD_CACHE_MIN_SECONDS: true,
  CIMD_CACHE_MAX_SECONDS: true,
  CIMD_MAX_CLIENTS: true,
  CIMD_UNUSED_CLIENT_HOURS: true,
  CIMD_IDLE_CLIENT_DAYS: true,
  REDIS_URL: true,
  TRUSTED_PROXIES: true,
  RATE_LIMITS: true,
  RATE_LIMIT_DISCOVERY: true,
  RATE_LIMIT_AUTHORIZE: true,
  RATE_LIMIT_REGISTER: true,
  RATE_LIMIT_TOKEN: true,
  RATE_LIMIT_INTROSPECT: true,
  RATE_LIMIT_LOGIN_COMPLETE: true,
  RATE_LIMIT_MINT: true,
  RATE_LIMIT_ADMIN: true,
  RATE_LIMIT_DEFAULT: true,
  DCR_MAX_CLIENTS: true,
  DCR_UNUSED_CLIENT_HOURS: true,
  DCR_IDLE_CLIENT_DAYS: true,
  DCR_CLIENT_SECRET_DAYS: true,
  DCR_REQUIRE_INITIAL_ACCESS_TOKEN: true,
  SIGNING_ALG: true,
  KEY_ROTATION_DAYS: true,
  DYNAMIC_REGISTRATION: true,
  KEY_RELOAD_SECONDS: true,
  AUTHORIZATION_CODE_TTL: true,
  REFRESH_REUSE_GRACE_SECONDS: true,
  SHUTDOWN_GRACE_SECONDS: true,
  ACCESS_TOKEN_CACHE_ENTRIES: true,
  DPOP_NONCE: true,
  DEV_LOGIN: true,
  CONSOLE_ADMINS: true,
};

/** Every environment variable the configuration reads (docs/configuration.md documents each; a test holds them equal). */
export const CONFIGURATION_VARIABLES: readonly string[] = Object.keys(KNOWN_VARIABLES);

function decodeKey(value: string): Buffer {
  return value.length === 64 ? Buffer.from(value, 'hex') : Buffer.from(value, 'base64url');
}

export const GATEHOUSE_CONFIG = Symbol('GATEHOUSE_CONFIG');
