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
import { resolve } from 'node:path';
import { isLoopbackHost } from '../common/urls.js';

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
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export interface GithubConfig {
  clientId: string;
  clientSecret: string;
  authorizationUrl: string;
  tokenUrl: string;
  userProfileUrl: string;
}

export type DatabaseConfig = { kind: 'postgres'; url: string } | { kind: 'pglite'; dataDir: string };

export interface GatehouseConfig {
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
    ? { kind: 'postgres', url: vars.DATABASE_URL }
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

  return {
    port,
    host: vars.HOST ?? '0.0.0.0',
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
  };
}

const KNOWN_VARIABLES: Record<keyof EnvironmentVariables, true> = {
  PORT: true,
  HOST: true,
  ISSUER: true,
  DATABASE_URL: true,
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
};

function decodeKey(value: string): Buffer {
  return value.length === 64 ? Buffer.from(value, 'hex') : Buffer.from(value, 'base64url');
}

export const GATEHOUSE_CONFIG = Symbol('GATEHOUSE_CONFIG');
