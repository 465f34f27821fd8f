import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { ConfigError, loadConfig } from './config.js';

/** Asserts that loading `env` fails with a ConfigError naming `variable`, in the property and in the message. */
function assertConfigError(env: Record<string, string | undefined>, variable: string): void {
  assert.throws(
    () => loadConfig(env),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError, `expected ConfigError for ${JSON.stringify(env)}, got ${String(error)}`);
      assert.equal(error.variable, variable);
      assert.ok(error.message.includes(variable), error.message);
      assert.equal(error.name, 'ConfigError');
      return true;
    },
  );
}

describe('loadConfig', () => {
  it('has working defaults: port 3000, loopback issuer, embedded PGlite under ./data', () => {
    const config = loadConfig({});
    assert.equal(config.port, 3000);
    assert.equal(config.host, '0.0.0.0');
    assert.equal(config.issuer, 'http://localhost:3000');
    assert.equal(config.secureCookies, false);
    assert.equal(config.dataDir, resolve('./data'));
    assert.deepEqual(config.database, { kind: 'pglite', dataDir: resolve('./data', 'pglite') });
    assert.equal(config.adminToken, undefined);
    assert.equal(config.encryptionKey, undefined);
    assert.equal(config.github, null);
    assert.deepEqual(config.githubMissing, ['GITHUB_CLIENT_ID', 'GITHUB_CLIENT_SECRET']);
    assert.equal(config.logLevel, 'info');
  });

  it('reads nothing from process.env when given an environment', () => {
    const config = loadConfig({ PORT: '4100' });
    assert.equal(config.port, 4100);
    assert.equal(config.issuer, 'http://localhost:4100', 'the default issuer follows PORT');
  });

  it('treats empty values as unset and ignores unknown variables', () => {
    const config = loadConfig({ PORT: '', ISSUER: '', ADMIN_TOKEN: '', HOME: '/root', SOMETHING_ELSE: 'x' });
    assert.equal(config.port, 3000);
    assert.equal(config.issuer, 'http://localhost:3000');
    assert.equal(config.adminToken, undefined);
  });

  it('rejects a PORT that is not a whole number in range', () => {
    for (const port of ['abc', '3000abc', '-1', '1.5', '65536', '0x10', ' 80']) {
      assertConfigError({ PORT: port }, 'PORT');
    }
    assert.equal(loadConfig({ PORT: '65535' }).port, 65535);
  });

  it('rejects an http ISSUER on a public host', () => {
    assertConfigError({ ISSUER: 'http://example.com' }, 'ISSUER');
    assertConfigError({ ISSUER: 'http://auth.example.com:8080' }, 'ISSUER');
  });

  it('rejects an ISSUER that is not an http(s) URL, or carries a query, fragment or credentials', () => {
    for (const issuer of ['not a url', 'ftp://auth.example.com', 'auth.example.com', 'https://auth.example.com?tenant=1', 'https://auth.example.com#x', 'https://user:pw@auth.example.com']) {
      assertConfigError({ ISSUER: issuer }, 'ISSUER');
    }
  });

  it('strips trailing slashes from ISSUER', () => {
    assert.equal(loadConfig({ ISSUER: 'https://auth.example.com/' }).issuer, 'https://auth.example.com');
    assert.equal(loadConfig({ ISSUER: 'https://auth.example.com//' }).issuer, 'https://auth.example.com');
    assert.equal(loadConfig({ ISSUER: 'http://127.0.0.1:8080/' }).issuer, 'http://127.0.0.1:8080');
    assert.equal(loadConfig({ ISSUER: 'https://auth.example.com' }).issuer, 'https://auth.example.com');
  });

  it('uses Secure cookies except for a loopback http issuer', () => {
    assert.equal(loadConfig({ ISSUER: 'http://localhost:3000' }).secureCookies, false);
    assert.equal(loadConfig({ ISSUER: 'http://127.0.0.1:8080' }).secureCookies, false);
    assert.equal(loadConfig({ ISSUER: 'https://auth.example.com' }).secureCookies, true);
    assert.equal(loadConfig({ ISSUER: 'https://localhost:8443' }).secureCookies, true);
  });

  it('turns development sign-in on with DEV_LOGIN=true, off by default', () => {
    assert.equal(loadConfig({}).devLogin, false);
    assert.equal(loadConfig({ DEV_LOGIN: 'false' }).devLogin, false);
    assert.equal(loadConfig({ DEV_LOGIN: 'true' }).devLogin, true, 'the default issuer is http://localhost:3000');
    for (const issuer of ['http://127.0.0.1:8080', 'http://[::1]:3000', 'https://localhost:8443']) {
      assert.equal(loadConfig({ DEV_LOGIN: 'true', ISSUER: issuer }).devLogin, true, issuer);
    }
    assertConfigError({ DEV_LOGIN: 'yes' }, 'DEV_LOGIN');
  });

  it('reads CONSOLE_ADMINS as PROVIDER:LOGIN entries split at the last colon, none by default', () => {
    assert.deepEqual(loadConfig({}).consoleAdmins, []);
    assert.deepEqual(loadConfig({ CONSOLE_ADMINS: ' github:alice , oidc:corp:bob@example.com,,dev:carol' }).consoleAdmins, [
      { provider: 'github', login: 'alice' },
      { provider: 'oidc:corp', login: 'bob@example.com' },
      { provider: 'dev', login: 'carol' },
    ]);
    for (const bad of ['alice', ':alice', 'github:', 'github:alice,bob']) assertConfigError({ CONSOLE_ADMINS: bad }, 'CONSOLE_ADMINS');
  });

  it('listens on loopback only with DEV_LOGIN=true, unless HOST says otherwise', () => {
    assert.equal(loadConfig({ DEV_LOGIN: 'true' }).host, '127.0.0.1');
    assert.equal(loadConfig({ DEV_LOGIN: 'true', HOST: '0.0.0.0' }).host, '0.0.0.0');
    assert.equal(loadConfig({ DEV_LOGIN: 'false' }).host, '0.0.0.0');
  });

  it('refuses DEV_LOGIN=true with an issuer other people can reach, saying why', () => {
    for (const issuer of ['https://auth.example.com', 'https://10.0.0.5', 'https://localhost.example.com']) {
      assertConfigError({ DEV_LOGIN: 'true', ISSUER: issuer }, 'DEV_LOGIN');
      assert.throws(() => loadConfig({ DEV_LOGIN: 'true', ISSUER: issuer }), /only when the ISSUER host is loopback \(localhost, 127\.0\.0\.1, \[::1\]\)/);
    }
    assert.equal(loadConfig({ DEV_LOGIN: 'false', ISSUER: 'https://auth.example.com' }).devLogin, false);
  });

  it('requires ADMIN_TOKEN and SESSION_SECRET to be at least 32 characters', () => {
    assertConfigError({ ADMIN_TOKEN: randomBytes(15).toString('hex') }, 'ADMIN_TOKEN');
    assertConfigError({ SESSION_SECRET: randomBytes(15).toString('hex') }, 'SESSION_SECRET');
    const token = randomBytes(16).toString('hex');
    assert.equal(loadConfig({ ADMIN_TOKEN: token }).adminToken, token);
  });

  it('requires ENCRYPTION_KEY when DATABASE_URL is set, naming ENCRYPTION_KEY', () => {
    assertConfigError({ DATABASE_URL: 'postgres://gatehouse@db.internal/gatehouse' }, 'ENCRYPTION_KEY');
  });

  it('uses PostgreSQL with DATABASE_URL and a key given as hex or base64url', () => {
    const key = randomBytes(32);
    for (const encoded of [key.toString('hex'), key.toString('base64url')]) {
      const config = loadConfig({ DATABASE_URL: 'postgresql://gatehouse@db.internal:5432/gatehouse', ENCRYPTION_KEY: encoded });
      assert.deepEqual(config.database, {
        kind: 'postgres',
        url: 'postgresql://gatehouse@db.internal:5432/gatehouse',
        preparedStatements: true,
        connectTimeoutSeconds: 60,
        queryTimeoutMs: 10_000,
        poolIdleSeconds: 300,
      });
      assert.ok(config.encryptionKey?.equals(key));
    }
  });

  it('turns prepared statements off with DATABASE_PREPARED_STATEMENTS=off (on by default), and rejects other values', () => {
    const base = { DATABASE_URL: 'postgres://gatehouse@pgbouncer.internal:6432/gatehouse', ENCRYPTION_KEY: randomBytes(32).toString('hex') };
    const preparedStatements = (env: Record<string, string>) => {
      const { database } = loadConfig({ ...base, ...env });
      return database.kind === 'postgres' ? database.preparedStatements : assert.fail('expected PostgreSQL');
    };
    assert.equal(preparedStatements({}), true);
    assert.equal(preparedStatements({ DATABASE_PREPARED_STATEMENTS: 'on' }), true);
    assert.equal(preparedStatements({ DATABASE_PREPARED_STATEMENTS: 'off' }), false);
    assertConfigError({ ...base, DATABASE_PREPARED_STATEMENTS: 'false' }, 'DATABASE_PREPARED_STATEMENTS');
  });

  it('bounds boot retries by DATABASE_CONNECT_TIMEOUT_S and each statement by DATABASE_QUERY_TIMEOUT_MS, naming the variable', () => {
    const base = { DATABASE_URL: 'postgres://gatehouse@db.internal/gatehouse', ENCRYPTION_KEY: randomBytes(32).toString('hex') };
    const database = loadConfig({ ...base, DATABASE_CONNECT_TIMEOUT_S: '0', DATABASE_QUERY_TIMEOUT_MS: '2500' }).database;
    assert.equal(database.kind === 'postgres' && database.connectTimeoutSeconds, 0);
    assert.equal(database.kind === 'postgres' && database.queryTimeoutMs, 2500);
    assertConfigError({ ...base, DATABASE_CONNECT_TIMEOUT_S: '5s' }, 'DATABASE_CONNECT_TIMEOUT_S');
    assertConfigError({ ...base, DATABASE_CONNECT_TIMEOUT_S: '3601' }, 'DATABASE_CONNECT_TIMEOUT_S');
    assertConfigError({ ...base, DATABASE_QUERY_TIMEOUT_MS: '99' }, 'DATABASE_QUERY_TIMEOUT_MS');
    assertConfigError({ ...base, DATABASE_QUERY_TIMEOUT_MS: '-1' }, 'DATABASE_QUERY_TIMEOUT_MS');
  });

  it('keeps idle pooled connections for DATABASE_POOL_IDLE_S (300 by default), naming the variable when it is out of range', () => {
    const base = { DATABASE_URL: 'postgres://gatehouse@db.internal/gatehouse', ENCRYPTION_KEY: randomBytes(32).toString('hex') };
    const idleSeconds = (env: Record<string, string>) => {
      const { database } = loadConfig({ ...base, ...env });
      return database.kind === 'postgres' ? database.poolIdleSeconds : assert.fail('expected PostgreSQL');
    };
    assert.equal(idleSeconds({}), 300);
    assert.equal(idleSeconds({ DATABASE_POOL_IDLE_S: '30' }), 30);
    assertConfigError({ ...base, DATABASE_POOL_IDLE_S: '0' }, 'DATABASE_POOL_IDLE_S');
    assertConfigError({ ...base, DATABASE_POOL_IDLE_S: '86401' }, 'DATABASE_POOL_IDLE_S');
  });

  it('rejects a DATABASE_URL that is not postgres://, and a malformed ENCRYPTION_KEY', () => {
    assertConfigError({ DATABASE_URL: 'mysql://db.internal/gatehouse', ENCRYPTION_KEY: randomBytes(32).toString('hex') }, 'DATABASE_URL');
    assertConfigError({ ENCRYPTION_KEY: randomBytes(16).toString('hex') }, 'ENCRYPTION_KEY');
    assertConfigError({ ENCRYPTION_KEY: 'z'.repeat(64) }, 'ENCRYPTION_KEY');
  });

  it('rejects unknown HOST and LOG_LEVEL values', () => {
    assertConfigError({ HOST: 'example.com' }, 'HOST');
    assertConfigError({ LOG_LEVEL: 'verbose' }, 'LOG_LEVEL');
    assert.equal(loadConfig({ LOG_LEVEL: 'silent' }).logLevel, 'silent');
  });

  it('puts PGlite in DATA_DIR', () => {
    const config = loadConfig({ DATA_DIR: '/var/lib/gatehouse' });
    assert.equal(config.dataDir, '/var/lib/gatehouse');
    assert.deepEqual(config.database, { kind: 'pglite', dataDir: '/var/lib/gatehouse/pglite' });
  });

  it('enables GitHub sign-in only with both id and secret, with github.com endpoints by default', () => {
    const half = loadConfig({ GITHUB_CLIENT_ID: 'Iv1.abc' });
    assert.equal(half.github, null);
    assert.deepEqual(half.githubMissing, ['GITHUB_CLIENT_SECRET']);

    const secret = randomBytes(20).toString('hex');
    const full = loadConfig({ GITHUB_CLIENT_ID: 'Iv1.abc', GITHUB_CLIENT_SECRET: secret });
    assert.deepEqual(full.github, {
      clientId: 'Iv1.abc',
      clientSecret: secret,
      authorizationUrl: 'https://github.com/login/oauth/authorize',
      tokenUrl: 'https://github.com/login/oauth/access_token',
      userProfileUrl: 'https://api.github.com/user',
    });
    assert.deepEqual(full.githubMissing, []);
    assertConfigError({ GITHUB_TOKEN_URL: 'not a url' }, 'GITHUB_TOKEN_URL');
  });
});

describe('loadConfig, client metadata documents', () => {
  it('defaults: enabled, no host lists, loopback refused, 5 s, 5 min to 24 h, 5 kB; 10000 clients, unused ones kept 24 h, idle ones 90 days', () => {
    assert.deepEqual(loadConfig({}).cimd, {
      enabled: true,
      allowedHosts: [],
      deniedHosts: [],
      allowLoopback: false,
      extraCaPem: null,
      fetchTimeoutMs: 5000,
      cacheMinSeconds: 300,
      cacheMaxSeconds: 86400,
      maxDocumentBytes: 5120,
      maxClients: 10_000,
      unusedClientTtlMs: 24 * 3_600_000,
      idleClientTtlMs: 90 * 86_400_000,
    });
  });

  it('reads the switches, the host lists (trimmed, lower-cased) and the numbers', () => {
    const cimd = loadConfig({
      CIMD_ENABLED: 'false',
      CIMD_ALLOW_LOOPBACK: 'true',
      CIMD_ALLOWED_HOSTS: ' *.Example.com, app.example.org ,,',
      CIMD_DENIED_HOSTS: 'evil.example.com,[::1],10.0.0.1',
      CIMD_FETCH_TIMEOUT_MS: '300',
      CIMD_CACHE_MIN_SECONDS: '0',
      CIMD_CACHE_MAX_SECONDS: '600',
    }).cimd;
    assert.equal(cimd.enabled, false);
    assert.equal(cimd.allowLoopback, true);
    assert.deepEqual(cimd.allowedHosts, ['*.example.com', 'app.example.org']);
    assert.deepEqual(cimd.deniedHosts, ['evil.example.com', '[::1]', '10.0.0.1']);
    assert.equal(cimd.fetchTimeoutMs, 300);
    assert.equal(cimd.cacheMinSeconds, 0);
    assert.equal(cimd.cacheMaxSeconds, 600);
  });

  it('rejects malformed values, naming the variable', () => {
    assertConfigError({ CIMD_ENABLED: 'yes' }, 'CIMD_ENABLED');
    assertConfigError({ CIMD_ALLOW_LOOPBACK: '1' }, 'CIMD_ALLOW_LOOPBACK');
    assertConfigError({ CIMD_ALLOWED_HOSTS: 'https://app.example.com' }, 'CIMD_ALLOWED_HOSTS');
    assertConfigError({ CIMD_ALLOWED_HOSTS: 'app.*.example.com' }, 'CIMD_ALLOWED_HOSTS');
    assertConfigError({ CIMD_DENIED_HOSTS: 'example.com/path' }, 'CIMD_DENIED_HOSTS');
    assertConfigError({ CIMD_DENIED_HOSTS: '*' }, 'CIMD_DENIED_HOSTS');
    for (const value of ['abc', '-1', '1.5', '10', '60001']) assertConfigError({ CIMD_FETCH_TIMEOUT_MS: value }, 'CIMD_FETCH_TIMEOUT_MS');
    assertConfigError({ CIMD_CACHE_MIN_SECONDS: 'soon' }, 'CIMD_CACHE_MIN_SECONDS');
    assertConfigError({ CIMD_CACHE_MAX_SECONDS: '99999999' }, 'CIMD_CACHE_MAX_SECONDS');
    assertConfigError({ CIMD_CACHE_MIN_SECONDS: '600', CIMD_CACHE_MAX_SECONDS: '599' }, 'CIMD_CACHE_MAX_SECONDS');
  });

  it('reads the client cap and lifetimes apart from the DCR ones; CIMD_IDLE_CLIENT_DAYS=0 keeps idle clients', () => {
    const config = loadConfig({ CIMD_MAX_CLIENTS: '500', CIMD_UNUSED_CLIENT_HOURS: '2', CIMD_IDLE_CLIENT_DAYS: '0' });
    assert.deepEqual([config.cimd.maxClients, config.cimd.unusedClientTtlMs, config.cimd.idleClientTtlMs], [500, 2 * 3_600_000, 0]);
    assert.deepEqual(config.registration, loadConfig({}).registration, 'the DCR settings are untouched');
    assert.equal(loadConfig({ CIMD_IDLE_CLIENT_DAYS: '7' }).cimd.idleClientTtlMs, 7 * 86_400_000);
    assert.equal(loadConfig({ CIMD_MAX_CLIENTS: '1' }).cimd.maxClients, 1);
    assert.equal(loadConfig({ DCR_MAX_CLIENTS: '3', DCR_UNUSED_CLIENT_HOURS: '5' }).cimd.maxClients, 10_000, 'and the DCR ones do not set them');
  });

  it('rejects a malformed or out-of-range client cap or lifetime, naming the variable', () => {
    for (const value of ['0', '-1', '1.5', 'many', '1e3', '100000001']) assertConfigError({ CIMD_MAX_CLIENTS: value }, 'CIMD_MAX_CLIENTS');
    for (const value of ['0', '-1', '1.5', '8761', 'day']) assertConfigError({ CIMD_UNUSED_CLIENT_HOURS: value }, 'CIMD_UNUSED_CLIENT_HOURS');
    for (const value of ['-1', '0.5', '36501', 'never']) assertConfigError({ CIMD_IDLE_CLIENT_DAYS: value }, 'CIMD_IDLE_CLIENT_DAYS');
  });

  it('reads CIMD_EXTRA_CA_FILE at boot, and refuses a missing file or one without a certificate', async () => {
    const { execFileSync } = await import('node:child_process');
    const { mkdtemp, rm, writeFile, readFile } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const dir = await mkdtemp(resolve(tmpdir(), 'gatehouse-ca-'));
    try {
      const cert = resolve(dir, 'ca.pem');
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=test CA', '-keyout', resolve(dir, 'key.pem'), '-out', cert], { stdio: 'pipe' });
      assert.equal(loadConfig({ CIMD_EXTRA_CA_FILE: cert }).cimd.extraCaPem, await readFile(cert, 'utf8'));
      assertConfigError({ CIMD_EXTRA_CA_FILE: resolve(dir, 'missing.pem') }, 'CIMD_EXTRA_CA_FILE');
      const notPem = resolve(dir, 'not.pem');
      await writeFile(notPem, 'hello');
      assertConfigError({ CIMD_EXTRA_CA_FILE: notPem }, 'CIMD_EXTRA_CA_FILE');
      const broken = resolve(dir, 'broken.pem');
      await writeFile(broken, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
      assertConfigError({ CIMD_EXTRA_CA_FILE: broken }, 'CIMD_EXTRA_CA_FILE');
      // The private key next to it is not a certificate either.
      assertConfigError({ CIMD_EXTRA_CA_FILE: resolve(dir, 'key.pem') }, 'CIMD_EXTRA_CA_FILE');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('loadConfig, dynamic registration hygiene', () => {
  it('defaults: 10000 clients, unused clients kept 24 h, idle ones 90 days, no initial access token needed', () => {
    assert.deepEqual(loadConfig({}).registration, {
      dynamicRegistration: true,
      maxDynamicClients: 10_000,
      unusedClientTtlMs: 24 * 3_600_000,
      idleClientTtlMs: 90 * 86_400_000,
      clientSecretTtlMs: 0,
      requireInitialAccessToken: false,
    });
  });

  it('reads the cap, the lifetimes in hours and days, and the switch; DCR_IDLE_CLIENT_DAYS=0 keeps idle clients', () => {
    const registration = loadConfig({ DCR_MAX_CLIENTS: '500', DCR_UNUSED_CLIENT_HOURS: '2', DCR_IDLE_CLIENT_DAYS: '0', DCR_REQUIRE_INITIAL_ACCESS_TOKEN: 'true' }).registration;
    assert.deepEqual(registration, { dynamicRegistration: true, maxDynamicClients: 500, unusedClientTtlMs: 2 * 3_600_000, idleClientTtlMs: 0, clientSecretTtlMs: 0, requireInitialAccessToken: true });
    assert.equal(loadConfig({ DCR_IDLE_CLIENT_DAYS: '7' }).registration.idleClientTtlMs, 7 * 86_400_000);
    assert.equal(loadConfig({ DCR_REQUIRE_INITIAL_ACCESS_TOKEN: 'false' }).registration.requireInitialAccessToken, false);
    assert.equal(loadConfig({ DCR_MAX_CLIENTS: '1' }).registration.maxDynamicClients, 1);
  });

  it('rejects malformed or out-of-range values, naming the variable', () => {
    for (const value of ['0', '-1', '1.5', 'many', '1e3', '100000001']) assertConfigError({ DCR_MAX_CLIENTS: value }, 'DCR_MAX_CLIENTS');
    for (const value of ['0', '-1', '1.5', '8761', 'day']) assertConfigError({ DCR_UNUSED_CLIENT_HOURS: value }, 'DCR_UNUSED_CLIENT_HOURS');
    for (const value of ['-1', '0.5', '36501', 'never']) assertConfigError({ DCR_IDLE_CLIENT_DAYS: value }, 'DCR_IDLE_CLIENT_DAYS');
    for (const value of ['yes', '1', 'TRUE']) assertConfigError({ DCR_REQUIRE_INITIAL_ACCESS_TOKEN: value }, 'DCR_REQUIRE_INITIAL_ACCESS_TOKEN');
  });

  it('lets dynamic clients\' secrets expire after DCR_CLIENT_SECRET_DAYS days (0, the default: never), up to 3650', () => {
    assert.equal(loadConfig({ DCR_CLIENT_SECRET_DAYS: '30' }).registration.clientSecretTtlMs, 30 * 86_400_000);
    assert.equal(loadConfig({ DCR_CLIENT_SECRET_DAYS: '0' }).registration.clientSecretTtlMs, 0);
    for (const value of ['-1', '1.5', '3651', 'never']) assertConfigError({ DCR_CLIENT_SECRET_DAYS: value }, 'DCR_CLIENT_SECRET_DAYS');
  });

  it('keeps dynamic registration on unless DYNAMIC_REGISTRATION=false, and rejects other values', () => {
    assert.equal(loadConfig({ DYNAMIC_REGISTRATION: 'false' }).registration.dynamicRegistration, false);
    assert.equal(loadConfig({ DYNAMIC_REGISTRATION: 'true' }).registration.dynamicRegistration, true);
    for (const value of ['off', 'no', '0', 'FALSE']) assertConfigError({ DYNAMIC_REGISTRATION: value }, 'DYNAMIC_REGISTRATION');
  });
});

describe('loadConfig, verified access token cache', () => {
  it('remembers 10000 tokens by default; ACCESS_TOKEN_CACHE_ENTRIES sets the bound and 0 turns the cache off', () => {
    assert.equal(loadConfig({}).accessTokenCacheEntries, 10_000);
    assert.equal(loadConfig({ ACCESS_TOKEN_CACHE_ENTRIES: '250' }).accessTokenCacheEntries, 250);
    assert.equal(loadConfig({ ACCESS_TOKEN_CACHE_ENTRIES: '0' }).accessTokenCacheEntries, 0);
    assert.equal(loadConfig({ ACCESS_TOKEN_CACHE_ENTRIES: '1000000' }).accessTokenCacheEntries, 1_000_000);
  });

  it('rejects malformed or out-of-range values, naming the variable', () => {
    for (const value of ['-1', '1.5', 'off', '1e3', '1000001', '12345678']) assertConfigError({ ACCESS_TOKEN_CACHE_ENTRIES: value }, 'ACCESS_TOKEN_CACHE_ENTRIES');
  });
});

describe('loadConfig, authorization code lifetime', () => {
  it('lets codes live 60 s by default; AUTHORIZATION_CODE_TTL sets it in seconds, from 10 to 600', () => {
    assert.equal(loadConfig({}).authorizationCodeTtlSeconds, 60);
    assert.equal(loadConfig({ AUTHORIZATION_CODE_TTL: '10' }).authorizationCodeTtlSeconds, 10);
    assert.equal(loadConfig({ AUTHORIZATION_CODE_TTL: '600' }).authorizationCodeTtlSeconds, 600);
  });

  it('rejects malformed or out-of-range values, naming the variable and the range', () => {
    for (const value of ['0', '9', '601', '-1', '1.5', '60s', '1e2']) assertConfigError({ AUTHORIZATION_CODE_TTL: value }, 'AUTHORIZATION_CODE_TTL');
    assert.throws(() => loadConfig({ AUTHORIZATION_CODE_TTL: '5' }), /AUTHORIZATION_CODE_TTL.*whole number of seconds from 10 to 600/);
  });
});

describe('loadConfig, refresh reuse grace', () => {
  it('allows a retry for 30 s by default; REFRESH_REUSE_GRACE_SECONDS sets the window and 0 makes every reuse revoke', () => {
    assert.equal(loadConfig({}).refreshReuseGraceSeconds, 30);
    assert.equal(loadConfig({ REFRESH_REUSE_GRACE_SECONDS: '5' }).refreshReuseGraceSeconds, 5);
    assert.equal(loadConfig({ REFRESH_REUSE_GRACE_SECONDS: '0' }).refreshReuseGraceSeconds, 0);
    assert.equal(loadConfig({ REFRESH_REUSE_GRACE_SECONDS: '300' }).refreshReuseGraceSeconds, 300);
  });

  it('rejects malformed or out-of-range values, naming the variable', () => {
    for (const value of ['-1', '1.5', 'off', '1e2', '301', '12345']) assertConfigError({ REFRESH_REUSE_GRACE_SECONDS: value }, 'REFRESH_REUSE_GRACE_SECONDS');
  });
});

describe('loadConfig, signing keys', () => {
  it('signs with ES256 by default; SIGNING_ALG chooses ES256, RS256 or EdDSA', () => {
    assert.equal(loadConfig({}).signingAlg, 'ES256');
    for (const alg of ['ES256', 'RS256', 'EdDSA'] as const) assert.equal(loadConfig({ SIGNING_ALG: alg }).signingAlg, alg);
  });

  it('refuses any other algorithm, symmetric ones and none included, naming the variable', () => {
    for (const value of ['HS256', 'none', 'es256', 'PS256', 'ES384', 'Ed25519', 'RS256 ']) assertConfigError({ SIGNING_ALG: value }, 'SIGNING_ALG');
  });

  it('rotates only by hand by default; KEY_ROTATION_DAYS sets the age at which the active key is rotated', () => {
    assert.equal(loadConfig({}).keyRotationMs, 0);
    assert.equal(loadConfig({ KEY_ROTATION_DAYS: '0' }).keyRotationMs, 0);
    assert.equal(loadConfig({ KEY_ROTATION_DAYS: '30' }).keyRotationMs, 30 * 86_400_000);
  });

  it('rejects malformed or out-of-range rotation periods, naming the variable', () => {
    for (const value of ['-1', '1.5', 'monthly', '1e2', '3651']) assertConfigError({ KEY_ROTATION_DAYS: value }, 'KEY_ROTATION_DAYS');
  });
});

/** The one-line messages of the ConfigError that loading `env` throws. */
function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems.map((problem) => problem.message);
  }
  return assert.fail(`expected a ConfigError for ${JSON.stringify(env)}`);
}

describe('loadConfig, error reporting', () => {
  it('reports every bad variable at once, one line each under a count', () => {
    const env = { PORT: 'abc', ISSUER: 'ftp://x', LOG_LEVEL: 'verbose', CIMD_ENABLED: 'yes', RATE_LIMIT_TOKEN: '300', DCR_IDLE_CLIENT_DAYS: 'never' };
    assert.throws(
      () => loadConfig(env),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.deepEqual(error.problems.map((problem) => problem.variable).sort(), Object.keys(env).sort());
        const lines = error.message.split('\n');
        assert.equal(lines[0], '6 configuration errors:');
        assert.equal(lines.length, 7);
        for (const [index, problem] of error.problems.entries()) assert.equal(lines[index + 1], `  ${problem.message}`);
        return true;
      },
    );
  });

  it('says what a number must be, with its range, instead of the first failed constraint', () => {
    assert.deepEqual(problemsOf({ PORT: 'abc' }), ['PORT must be an integer from 1 to 65535 (got "abc")']);
    assert.deepEqual(problemsOf({ PORT: '0' }), ['PORT must be an integer from 1 to 65535 (got "0")']);
    assert.deepEqual(problemsOf({ PORT: '70000' }), ['PORT must be an integer from 1 to 65535 (got "70000")']);
    assert.deepEqual(problemsOf({ SHUTDOWN_GRACE_SECONDS: '5s' }), ['SHUTDOWN_GRACE_SECONDS must be a whole number of seconds from 0 to 3600 (got "5s")']);
    assert.deepEqual(problemsOf({ CIMD_IDLE_CLIENT_DAYS: '1e3' }), ['CIMD_IDLE_CLIENT_DAYS must be a whole number of days from 0 to 36500 (got "1e3")']);
  });

  it('says an ISSUER must be an http(s) URL when it is not one', () => {
    const [message, ...rest] = problemsOf({ ISSUER: 'ftp://x' });
    assert.match(message!, /^ISSUER must be an http\(s\) URL .*\(got "ftp:\/\/x"\)$/);
    assert.deepEqual(rest, []);
    assert.deepEqual(problemsOf({ ISSUER: 'http://example.com' }), ['ISSUER must be an https URL unless its host is loopback (localhost, 127.0.0.1, [::1]) (got "http://example.com")']);
  });

  it('names the accepted values of switches and enumerations', () => {
    assert.deepEqual(problemsOf({ CIMD_ENABLED: 'yes' }), ['CIMD_ENABLED must be true or false (got "yes")']);
    assert.deepEqual(problemsOf({ RATE_LIMITS: 'false' }), ['RATE_LIMITS must be on or off (got "false")']);
    assert.deepEqual(problemsOf({ LOG_LEVEL: 'verbose' }), ['LOG_LEVEL must be one of debug, info, warn, error, silent (got "verbose")']);
    assert.deepEqual(problemsOf({ HOST: 'example.com' }), ['HOST must be one of 127.0.0.1, 0.0.0.0, ::, ::1, localhost (got "example.com")']);
    assert.deepEqual(problemsOf({ GITHUB_TOKEN_URL: 'github.com/token' }), ['GITHUB_TOKEN_URL must be an http(s) URL (got "github.com/token")']);
  });

  it('explains rate-limit budgets and the rules that tie two variables together', () => {
    assert.deepEqual(problemsOf({ RATE_LIMIT_TOKEN: '300' }), ['RATE_LIMIT_TOKEN must be <requests>/<window> with the window in s, m or h (e.g. 300/1m), or off (got "300")']);
    assert.deepEqual(problemsOf({ RATE_LIMIT_MINT: '0/1m' }), ['RATE_LIMIT_MINT must allow at least 1 request in a window from 1s to 24h (e.g. 300/1m), or be off (got "0/1m")']);
    assert.deepEqual(problemsOf({ CIMD_CACHE_MIN_SECONDS: '600', CIMD_CACHE_MAX_SECONDS: '599' }), ['CIMD_CACHE_MAX_SECONDS must not be less than CIMD_CACHE_MIN_SECONDS (600) (got "599")']);
    assert.deepEqual(problemsOf({ AUDIT_RETRY_BASE_MS: '1000', AUDIT_RETRY_MAX_MS: '10', PORT: 'x' }), [
      'PORT must be an integer from 1 to 65535 (got "x")',
      'AUDIT_RETRY_MAX_MS must not be less than AUDIT_RETRY_BASE_MS (1000) (got "10")',
    ]);
  });

  it('never echoes a secret, nor the password of a URL', () => {
    const secrets = { ADMIN_TOKEN: randomBytes(10).toString('hex'), SESSION_SECRET: randomBytes(10).toString('hex'), ENCRYPTION_KEY: randomBytes(20).toString('hex'), METRICS_TOKEN: 'short-metrics-token' };
    const messages = problemsOf({ ...secrets, DATABASE_URL: 'mysql://gatehouse:hunter2-password@db/gatehouse', ISSUER: 'http://admin:issuer-password@example.com' });
    assert.equal(messages.length, 7, messages.join('\n'));
    assert.ok(messages.includes('ADMIN_TOKEN must be at least 32 characters (got 20 characters)'), messages.join('\n'));
    const text = messages.join('\n');
    for (const value of [...Object.values(secrets), 'hunter2-password', 'issuer-password']) assert.equal(text.includes(value), false, text);
  });
});
