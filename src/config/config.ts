import 'reflect-metadata';
import { plainToInstance } from 'class-transformer';
import {
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  IsUrl,
  Matches,
  Max,
  Min,
  MinLength,
  validateSync,
} from 'class-validator';
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

/** The environment as Gatehouse reads it. This file is the only place that touches process.env. */
class EnvironmentVariables {
  @IsOptional() @IsInt() @Min(0) @Max(65535)
  PORT?: number;

  @IsOptional() @IsString() @IsIn(['127.0.0.1', '0.0.0.0', '::', '::1', 'localhost'])
  HOST?: string;

  @IsOptional() @IsUrl({ require_tld: false, require_protocol: true, protocols: ['http', 'https'] })
  ISSUER?: string;

  @IsOptional() @Matches(/^postgres(ql)?:\/\//, { message: 'DATABASE_URL must be a postgres:// or postgresql:// URL' })
  DATABASE_URL?: string;

  @IsOptional() @IsIn(['on', 'off'], { message: 'DATABASE_PREPARED_STATEMENTS must be on or off' })
  DATABASE_PREPARED_STATEMENTS?: string;

  @IsOptional() @Matches(/^\d{1,4}$/, { message: 'DATABASE_CONNECT_TIMEOUT_S must be a whole number of seconds' })
  DATABASE_CONNECT_TIMEOUT_S?: string;

  @IsOptional() @Matches(/^\d{1,6}$/, { message: 'DATABASE_QUERY_TIMEOUT_MS must be a whole number of milliseconds' })
  DATABASE_QUERY_TIMEOUT_MS?: string;

  @IsOptional() @IsString() @MinLength(1)
  DATA_DIR?: string;

  @IsOptional() @IsString() @MinLength(32, { message: 'ADMIN_TOKEN must be at least 32 characters' })
  ADMIN_TOKEN?: string;

  @IsOptional() @IsString() @MinLength(1)
  GITHUB_CLIENT_ID?: string;

  @IsOptional() @IsString() @MinLength(1)
  GITHUB_CLIENT_SECRET?: string;

  @IsOptional() @IsUrl({ require_tld: false, require_protocol: true, protocols: ['http', 'https'] })
  GITHUB_AUTHORIZATION_URL?: string;

  @IsOptional() @IsUrl({ require_tld: false, require_protocol: true, protocols: ['http', 'https'] })
  GITHUB_TOKEN_URL?: string;

  @IsOptional() @IsUrl({ require_tld: false, require_protocol: true, protocols: ['http', 'https'] })
  GITHUB_USER_PROFILE_URL?: string;

  @IsOptional() @IsString() @MinLength(32, { message: 'SESSION_SECRET must be at least 32 characters' })
  SESSION_SECRET?: string;

  @IsOptional() @Matches(/^[A-Za-z0-9_-]{43}$|^[0-9a-fA-F]{64}$/, {
    message: 'ENCRYPTION_KEY must be 32 bytes as 64 hex characters or 43 base64url characters',
  })
  ENCRYPTION_KEY?: string;

  @IsOptional() @IsIn(['debug', 'info', 'warn', 'error', 'silent'])
  LOG_LEVEL?: LogLevel;

  @IsOptional() @IsIn(['true', 'false'], { message: 'CIMD_ENABLED must be true or false' })
  CIMD_ENABLED?: string;

  @IsOptional() @IsString()
  CIMD_ALLOWED_HOSTS?: string;

  @IsOptional() @IsString()
  CIMD_DENIED_HOSTS?: string;

  @IsOptional() @IsIn(['true', 'false'], { message: 'CIMD_ALLOW_LOOPBACK must be true or false' })
  CIMD_ALLOW_LOOPBACK?: string;

  @IsOptional() @IsString() @MinLength(1)
  CIMD_EXTRA_CA_FILE?: string;

  @IsOptional() @Matches(/^\d{1,6}$/, { message: 'CIMD_FETCH_TIMEOUT_MS must be a whole number of milliseconds' })
  CIMD_FETCH_TIMEOUT_MS?: string;

  @IsOptional() @Matches(/^\d{1,7}$/, { message: 'CIMD_CACHE_MIN_SECONDS must be a whole number of seconds' })
  CIMD_CACHE_MIN_SECONDS?: string;

  @IsOptional() @Matches(/^\d{1,7}$/, { message: 'CIMD_CACHE_MAX_SECONDS must be a whole number of seconds' })
  CIMD_CACHE_MAX_SECONDS?: string;

  @IsOptional() @Matches(/^\d{1,9}$/, { message: 'CIMD_MAX_CLIENTS must be a whole number' })
  CIMD_MAX_CLIENTS?: string;

  @IsOptional() @Matches(/^\d{1,6}$/, { message: 'CIMD_UNUSED_CLIENT_HOURS must be a whole number of hours' })
  CIMD_UNUSED_CLIENT_HOURS?: string;

  @IsOptional() @Matches(/^\d{1,6}$/, { message: 'CIMD_IDLE_CLIENT_DAYS must be a whole number of days' })
  CIMD_IDLE_CLIENT_DAYS?: string;

  @IsOptional() @IsString() @MinLength(1)
  AUDIT_LOG?: string;

  @IsOptional() @IsUrl({ require_tld: false, require_protocol: true, protocols: ['http', 'https'] }, { message: 'AUDIT_WEBHOOK_URL must be an http(s) URL' })
  AUDIT_WEBHOOK_URL?: string;

  @IsOptional() @IsString() @MinLength(32, { message: 'AUDIT_WEBHOOK_SECRET must be at least 32 characters' })
  AUDIT_WEBHOOK_SECRET?: string;

  @IsOptional() @Matches(/^\d{1,9}$/, { message: 'AUDIT_WEBHOOK_TIMEOUT_MS must be a whole number of milliseconds' })
  AUDIT_WEBHOOK_TIMEOUT_MS?: string;

  @IsOptional() @Matches(/^\d{1,9}$/, { message: 'AUDIT_RETRY_BASE_MS must be a whole number of milliseconds' })
  AUDIT_RETRY_BASE_MS?: string;

  @IsOptional() @Matches(/^\d{1,9}$/, { message: 'AUDIT_RETRY_MAX_MS must be a whole number of milliseconds' })
  AUDIT_RETRY_MAX_MS?: string;

  @IsOptional() @Matches(/^\d{1,9}$/, { message: 'AUDIT_POLL_INTERVAL_MS must be a whole number of milliseconds' })
  AUDIT_POLL_INTERVAL_MS?: string;

  @IsOptional() @Matches(/^\d{1,6}$/, { message: 'AUDIT_RETENTION_DAYS must be a whole number of days' })
  AUDIT_RETENTION_DAYS?: string;

  @IsOptional() @Matches(/^\d{1,9}$/, { message: 'AUDIT_STREAM_HEARTBEAT_MS must be a whole number of milliseconds' })
  AUDIT_STREAM_HEARTBEAT_MS?: string;

  @IsOptional() @IsString() @MinLength(32, { message: 'METRICS_TOKEN must be at least 32 characters' })
  METRICS_TOKEN?: string;

  @IsOptional() @Matches(/^rediss?:\/\//, { message: 'REDIS_URL must be a redis:// or rediss:// URL' })
  REDIS_URL?: string;

  @IsOptional() @IsString()
  TRUSTED_PROXIES?: string;

  @IsOptional() @IsIn(['on', 'off'], { message: 'RATE_LIMITS must be on or off' })
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

  @IsOptional() @Matches(/^\d{1,9}$/, { message: 'DCR_MAX_CLIENTS must be a whole number' })
  DCR_MAX_CLIENTS?: string;

  @IsOptional() @Matches(/^\d{1,6}$/, { message: 'DCR_UNUSED_CLIENT_HOURS must be a whole number of hours' })
  DCR_UNUSED_CLIENT_HOURS?: string;

  @IsOptional() @Matches(/^\d{1,6}$/, { message: 'DCR_IDLE_CLIENT_DAYS must be a whole number of days' })
  DCR_IDLE_CLIENT_DAYS?: string;

  @IsOptional() @IsIn(['true', 'false'], { message: 'DCR_REQUIRE_INITIAL_ACCESS_TOKEN must be true or false' })
  DCR_REQUIRE_INITIAL_ACCESS_TOKEN?: string;

  @IsOptional() @Matches(/^\d{1,5}$/, { message: 'KEY_RELOAD_SECONDS must be a whole number of seconds' })
  KEY_RELOAD_SECONDS?: string;

  @IsOptional() @Matches(/^\d{1,4}$/, { message: 'REFRESH_REUSE_GRACE_SECONDS must be a whole number of seconds' })
  REFRESH_REUSE_GRACE_SECONDS?: string;

  @IsOptional() @Matches(/^\d{1,4}$/, { message: 'SHUTDOWN_GRACE_SECONDS must be a whole number of seconds' })
  SHUTDOWN_GRACE_SECONDS?: string;

  @IsOptional() @Matches(/^\d{1,7}$/, { message: 'ACCESS_TOKEN_CACHE_ENTRIES must be a whole number' })
  ACCESS_TOKEN_CACHE_ENTRIES?: string;

  @IsOptional() @IsIn(['true', 'false'], { message: 'DEV_LOGIN must be true or false' })
  DEV_LOGIN?: string;
}

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
 * means no bound, which only migrations use.
 */
export type DatabaseConfig =
  | { kind: 'postgres'; url: string; preparedStatements: boolean; connectTimeoutSeconds: number; queryTimeoutMs: number }
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
  /**
   * Development sign-in: anyone may type any name and sign in as it (identity provider `dev`). Only with a loopback
   * issuer, so that it cannot be switched on for a server other people reach.
   */
  devLogin: boolean;
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
  /** Most dynamic clients that may exist at once; registration beyond it is refused until some expire. */
  maxDynamicClients: number;
  /** A dynamic client never used this long after registering is deleted. */
  unusedClientTtlMs: number;
  /** A dynamic client not used for this long, with no live refresh token, is deleted; 0 keeps them. */
  idleClientTtlMs: number;
  /** Closed deployments: POST /register needs an initial access token issued by an administrator (RFC 7591 §3). */
  requireInitialAccessToken: boolean;
}

export class ConfigError extends Error {
  constructor(readonly variable: string, message: string) {
    super(`Invalid configuration: ${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

const GITHUB_DEFAULTS = {
  authorizationUrl: 'https://github.com/login/oauth/authorize',
  tokenUrl: 'https://github.com/login/oauth/access_token',
  userProfileUrl: 'https://api.github.com/user',
};

/** Parses and validates the environment once; a bad value throws a ConfigError naming the variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): GatehouseConfig {
  const present = Object.fromEntries(
    Object.entries(env).filter(([key, value]) => key in KNOWN_VARIABLES && value !== undefined && value !== ''),
  );
  const vars = plainToInstance(EnvironmentVariables, present, { enableImplicitConversion: false });
  if (present.PORT !== undefined) {
    const port = /^\d+$/.test(String(present.PORT)) ? Number(present.PORT) : Number.NaN;
    vars.PORT = port;
  }
  const errors = validateSync(vars, { forbidUnknownValues: true });
  const first = errors[0];
  if (first) {
    const message = Object.values(first.constraints ?? {})[0] ?? 'invalid value';
    throw new ConfigError(first.property, message);
  }

  const port = vars.PORT ?? 3000;
  const issuer = (vars.ISSUER ?? `http://localhost:${port}`).replace(/\/+$/, '');
  const issuerUrl = new URL(issuer);
  const loopbackIssuer = isLoopbackHost(issuerUrl.hostname);
  if (issuerUrl.protocol !== 'https:' && !loopbackIssuer) {
    throw new ConfigError('ISSUER', 'must be an https URL unless its host is loopback (localhost, 127.0.0.1, [::1])');
  }
  if (issuerUrl.search || issuerUrl.hash || issuerUrl.username || issuerUrl.password) {
    throw new ConfigError('ISSUER', 'must not carry a query, a fragment or credentials (RFC 8414 §2)');
  }
  if (issuerUrl.pathname !== '/') {
    // Every route, including /.well-known/*, is served at the root; an issuer with a path would advertise URLs
    // that only work behind a path-stripping proxy, and RFC 8414's path-inserted metadata URL would 404.
    throw new ConfigError('ISSUER', 'must be an origin without a path (e.g. https://auth.example.com)');
  }

  const dataDir = resolve(vars.DATA_DIR ?? './data');
  const database: DatabaseConfig = vars.DATABASE_URL
    ? {
        kind: 'postgres',
        url: vars.DATABASE_URL,
        preparedStatements: vars.DATABASE_PREPARED_STATEMENTS !== 'off',
        connectTimeoutSeconds: wholeNumber('DATABASE_CONNECT_TIMEOUT_S', vars.DATABASE_CONNECT_TIMEOUT_S, 60, 0, 3600),
        queryTimeoutMs: wholeNumber('DATABASE_QUERY_TIMEOUT_MS', vars.DATABASE_QUERY_TIMEOUT_MS, 10_000, 100, 600_000),
      }
    : { kind: 'pglite', dataDir: resolve(dataDir, 'pglite') };

  const encryptionKey = vars.ENCRYPTION_KEY ? decodeKey(vars.ENCRYPTION_KEY) : undefined;
  if (database.kind === 'postgres' && !encryptionKey) {
    // On a shared database every instance must hold the same key; generating one per process would lose data.
    throw new ConfigError('ENCRYPTION_KEY', 'is required when DATABASE_URL is set (32 random bytes, e.g. `openssl rand -hex 32`)');
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

  const cimd = cimdConfig(vars);

  const devLogin = vars.DEV_LOGIN === 'true';
  if (devLogin && !loopbackIssuer) {
    throw new ConfigError('DEV_LOGIN', 'is accepted only when the ISSUER host is loopback (localhost, 127.0.0.1, [::1]): it lets anyone sign in as anyone');
  }

  return {
    port,
    audit: auditConfig(vars),
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
    authorizationCodeTtlSeconds: 60,
    interactionTtlSeconds: 600,
    sessionTtlSeconds: 12 * 3600,
    cimd,
    rateLimits: rateLimitConfig(vars),
    registration: registrationConfig(vars),
    redisUrl: vars.REDIS_URL ?? null,
    trustedProxies: trustedProxies(vars.TRUSTED_PROXIES),
    keyReloadSeconds: wholeNumber('KEY_RELOAD_SECONDS', vars.KEY_RELOAD_SECONDS, 30, 1, 3600),
    refreshReuseGraceSeconds: wholeNumber('REFRESH_REUSE_GRACE_SECONDS', vars.REFRESH_REUSE_GRACE_SECONDS, 30, 0, 300),
    shutdownGraceSeconds: wholeNumber('SHUTDOWN_GRACE_SECONDS', vars.SHUTDOWN_GRACE_SECONDS, 10, 0, 3600),
    accessTokenCacheEntries: wholeNumber('ACCESS_TOKEN_CACHE_ENTRIES', vars.ACCESS_TOKEN_CACHE_ENTRIES, 10_000, 0, 1_000_000),
    devLogin,
  };
}

const RATE_LIMIT_VARIABLES: Record<RateLimitPolicy, keyof EnvironmentVariables> = {
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

function rateLimitConfig(vars: EnvironmentVariables): RateLimitConfig {
  const policies = {} as Record<RateLimitPolicy, RateLimit | null>;
  for (const policy of RATE_LIMIT_POLICY_NAMES) {
    const variable = RATE_LIMIT_VARIABLES[policy];
    const value = vars[variable] as string | undefined;
    if (value === undefined) {
      policies[policy] = { ...RATE_LIMIT_DEFAULTS[policy] };
      continue;
    }
    if (value === 'off') {
      policies[policy] = null;
      continue;
    }
    const [, limit, amount, unit] = /^(\d+)\/(\d+)([smh])$/.exec(value)!;
    const windowMs = Number(amount) * WINDOW_UNIT_MS[unit as keyof typeof WINDOW_UNIT_MS];
    if (Number(limit) < 1 || windowMs < 1000 || windowMs > 86_400_000) throw new ConfigError(variable, 'needs at least 1 request and a window between 1s and 24h');
    policies[policy] = { limit: Number(limit), windowMs };
  }
  return { enabled: vars.RATE_LIMITS !== 'off', policies };
}

function registrationConfig(vars: EnvironmentVariables): RegistrationConfig {
  return {
    maxDynamicClients: wholeNumber('DCR_MAX_CLIENTS', vars.DCR_MAX_CLIENTS, 10_000, 1, 100_000_000),
    unusedClientTtlMs: wholeNumber('DCR_UNUSED_CLIENT_HOURS', vars.DCR_UNUSED_CLIENT_HOURS, 24, 1, 24 * 365) * 3_600_000,
    idleClientTtlMs: wholeNumber('DCR_IDLE_CLIENT_DAYS', vars.DCR_IDLE_CLIENT_DAYS, 90, 0, 36_500) * 86_400_000,
    requireInitialAccessToken: vars.DCR_REQUIRE_INITIAL_ACCESS_TOKEN === 'true',
  };
}

const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

function trustedProxies(value: string | undefined): string[] {
  const entries = (value ?? '').split(',').map((entry) => entry.trim()).filter(Boolean);
  for (const entry of entries) {
    if (PROXY_NAMES.has(entry)) continue;
    const [address, prefix, extra] = entry.split('/');
    const family = isIP(address ?? '');
    const maxPrefix = family === 4 ? 32 : 128;
    const prefixOk = prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= maxPrefix);
    if (family === 0 || !prefixOk || extra !== undefined) {
      throw new ConfigError('TRUSTED_PROXIES', `${JSON.stringify(entry)} is not an address, a CIDR range, or one of loopback, linklocal, uniquelocal`);
    }
  }
  return entries;
}

/** `app.example.com`, `*.example.com` (any subdomain, not the apex), an IPv4 address, or a bracketed IPv6 one. */
const HOST_PATTERN = /^(\*\.)?[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$|^\[[0-9a-f:.]+\]$/;

function hostPatterns(variable: 'CIMD_ALLOWED_HOSTS' | 'CIMD_DENIED_HOSTS', value: string | undefined): string[] {
  const patterns = (value ?? '').split(',').map((pattern) => pattern.trim().toLowerCase()).filter(Boolean);
  const bad = patterns.find((pattern) => !HOST_PATTERN.test(pattern));
  if (bad !== undefined) throw new ConfigError(variable, `${JSON.stringify(bad)} is not a host pattern (use app.example.com or *.example.com, comma-separated)`);
  return patterns;
}

function wholeNumber(variable: keyof EnvironmentVariables, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (number < min || number > max) throw new ConfigError(variable, `must be between ${min} and ${max}`);
  return number;
}

function cimdConfig(vars: EnvironmentVariables): CimdConfig {
  const cacheMinSeconds = wholeNumber('CIMD_CACHE_MIN_SECONDS', vars.CIMD_CACHE_MIN_SECONDS, 300, 0, 7 * 86400);
  const cacheMaxSeconds = wholeNumber('CIMD_CACHE_MAX_SECONDS', vars.CIMD_CACHE_MAX_SECONDS, 86400, 0, 7 * 86400);
  if (cacheMaxSeconds < cacheMinSeconds) throw new ConfigError('CIMD_CACHE_MAX_SECONDS', `must not be less than CIMD_CACHE_MIN_SECONDS (${cacheMinSeconds})`);
  return {
    enabled: vars.CIMD_ENABLED !== 'false',
    allowedHosts: hostPatterns('CIMD_ALLOWED_HOSTS', vars.CIMD_ALLOWED_HOSTS),
    deniedHosts: hostPatterns('CIMD_DENIED_HOSTS', vars.CIMD_DENIED_HOSTS),
    allowLoopback: vars.CIMD_ALLOW_LOOPBACK === 'true',
    extraCaPem: vars.CIMD_EXTRA_CA_FILE === undefined ? null : readCaFile(vars.CIMD_EXTRA_CA_FILE),
    fetchTimeoutMs: wholeNumber('CIMD_FETCH_TIMEOUT_MS', vars.CIMD_FETCH_TIMEOUT_MS, 5000, 50, 60_000),
    cacheMinSeconds,
    cacheMaxSeconds,
    maxDocumentBytes: 5 * 1024,
    maxClients: wholeNumber('CIMD_MAX_CLIENTS', vars.CIMD_MAX_CLIENTS, 10_000, 1, 100_000_000),
    unusedClientTtlMs: wholeNumber('CIMD_UNUSED_CLIENT_HOURS', vars.CIMD_UNUSED_CLIENT_HOURS, 24, 1, 24 * 365) * 3_600_000,
    idleClientTtlMs: wholeNumber('CIMD_IDLE_CLIENT_DAYS', vars.CIMD_IDLE_CLIENT_DAYS, 90, 0, 36_500) * 86_400_000,
  };
}

/** Read once at boot, so a missing or malformed file stops the process instead of failing every fetch later. */
function readCaFile(path: string): string {
  let pem: string;
  try {
    pem = readFileSync(resolve(path), 'utf8');
  } catch (error) {
    throw new ConfigError('CIMD_EXTRA_CA_FILE', `cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const certificates = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (certificates.length === 0) throw new ConfigError('CIMD_EXTRA_CA_FILE', `${path} holds no PEM certificate`);
  for (const certificate of certificates) {
    try {
      new X509Certificate(certificate);
    } catch {
      throw new ConfigError('CIMD_EXTRA_CA_FILE', `${path} holds a certificate that cannot be parsed`);
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

function auditNumber(variable: keyof EnvironmentVariables, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!Number.isInteger(number) || number < min || number > max) throw new ConfigError(variable, `must be between ${min} and ${max}`);
  return number;
}

function auditConfig(vars: EnvironmentVariables): AuditConfig {
  const log: AuditConfig['log'] =
    vars.AUDIT_LOG === undefined || vars.AUDIT_LOG === 'stdout'
      ? { kind: 'stdout' }
      : vars.AUDIT_LOG === 'off'
        ? { kind: 'off' }
        : { kind: 'file', path: resolve(vars.AUDIT_LOG) };
  let webhook: AuditConfig['webhook'] = null;
  if (vars.AUDIT_WEBHOOK_URL !== undefined) {
    const url = new URL(vars.AUDIT_WEBHOOK_URL);
    // Events name users, clients and addresses: they travel encrypted unless the receiver is on this machine.
    if (url.protocol !== 'https:' && !isLoopbackHost(url.hostname)) throw new ConfigError('AUDIT_WEBHOOK_URL', 'must be an https URL unless its host is loopback');
    if (url.username || url.password || url.hash) throw new ConfigError('AUDIT_WEBHOOK_URL', 'must not carry credentials or a fragment');
    if (!vars.AUDIT_WEBHOOK_SECRET) throw new ConfigError('AUDIT_WEBHOOK_SECRET', 'is required when AUDIT_WEBHOOK_URL is set (at least 32 characters; deliveries are signed with it)');
    webhook = { url: url.href, secret: vars.AUDIT_WEBHOOK_SECRET, timeoutMs: auditNumber('AUDIT_WEBHOOK_TIMEOUT_MS', vars.AUDIT_WEBHOOK_TIMEOUT_MS, 10_000, 100, 120_000) };
  } else if (vars.AUDIT_WEBHOOK_SECRET !== undefined) {
    throw new ConfigError('AUDIT_WEBHOOK_SECRET', 'is set but AUDIT_WEBHOOK_URL is not');
  }
  const retryBaseMs = auditNumber('AUDIT_RETRY_BASE_MS', vars.AUDIT_RETRY_BASE_MS, 1000, 1, 3_600_000);
  const retryMaxMs = auditNumber('AUDIT_RETRY_MAX_MS', vars.AUDIT_RETRY_MAX_MS, 300_000, 1, 86_400_000);
  if (retryMaxMs < retryBaseMs) throw new ConfigError('AUDIT_RETRY_MAX_MS', `must not be less than AUDIT_RETRY_BASE_MS (${retryBaseMs})`);
  return {
    log,
    webhook,
    retryBaseMs,
    retryMaxMs,
    pollIntervalMs: auditNumber('AUDIT_POLL_INTERVAL_MS', vars.AUDIT_POLL_INTERVAL_MS, 1000, 10, 60_000),
    retentionDays: auditNumber('AUDIT_RETENTION_DAYS', vars.AUDIT_RETENTION_DAYS, 90, 0, 36_500),
    streamHeartbeatMs: auditNumber('AUDIT_STREAM_HEARTBEAT_MS', vars.AUDIT_STREAM_HEARTBEAT_MS, 15_000, 100, 300_000),
  };
}

const KNOWN_VARIABLES: Record<keyof EnvironmentVariables, true> = {
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
  DCR_REQUIRE_INITIAL_ACCESS_TOKEN: true,
  KEY_RELOAD_SECONDS: true,
  REFRESH_REUSE_GRACE_SECONDS: true,
  SHUTDOWN_GRACE_SECONDS: true,
  ACCESS_TOKEN_CACHE_ENTRIES: true,
  DEV_LOGIN: true,
};

/** Every environment variable the configuration reads (docs/configuration.md documents each; a test holds them equal). */
export const CONFIGURATION_VARIABLES: readonly string[] = Object.keys(KNOWN_VARIABLES);

function decodeKey(value: string): Buffer {
  return value.length === 64 ? Buffer.from(value, 'hex') : Buffer.from(value, 'base64url');
}

export const GATEHOUSE_CONFIG = Symbol('GATEHOUSE_CONFIG');
