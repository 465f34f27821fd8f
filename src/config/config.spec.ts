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
      assert.deepEqual(config.database, { kind: 'postgres', url: 'postgresql://gatehouse@db.internal:5432/gatehouse' });
      assert.ok(config.encryptionKey?.equals(key));
    }
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
