import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { ConfigError, loadConfig } from './config.js';
import { RATE_LIMIT_DEFAULTS } from './rate-limit-budgets.js';

const base = { DATA_DIR: '/tmp/gatehouse-config-test' };

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig({ ...base, ...env });
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error;
  }
  assert.fail(`expected a ConfigError for ${JSON.stringify(env)}`);
}

describe('rate-limit, proxy and Redis configuration', () => {
  it('defaults: limits on with the documented budgets, no Redis, no trusted proxy', () => {
    const config = loadConfig(base);
    assert.equal(config.rateLimits.enabled, true);
    assert.deepEqual(config.rateLimits.policies, RATE_LIMIT_DEFAULTS);
    assert.ok(config.rateLimits.policies.register!.limit < config.rateLimits.policies.token!.limit, '/register is tighter than /token');
    assert.equal(config.redisUrl, null);
    assert.deepEqual(config.trustedProxies, []);
    assert.equal(config.keyReloadSeconds, 30);
    assert.equal(config.shutdownGraceSeconds, 10);
  });

  it('reads <requests>/<window> in seconds, minutes or hours, and off per policy or for all', () => {
    const config = loadConfig({ ...base, RATE_LIMIT_TOKEN: '50/10s', RATE_LIMIT_REGISTER: '5/1m', RATE_LIMIT_ADMIN: '1000/2h', RATE_LIMIT_DISCOVERY: 'off' });
    assert.deepEqual(config.rateLimits.policies.token, { limit: 50, windowMs: 10_000 });
    assert.deepEqual(config.rateLimits.policies.register, { limit: 5, windowMs: 60_000 });
    assert.deepEqual(config.rateLimits.policies.admin, { limit: 1000, windowMs: 7_200_000 });
    assert.equal(config.rateLimits.policies.discovery, null);
    assert.equal(loadConfig({ ...base, RATE_LIMITS: 'off' }).rateLimits.enabled, false);
  });

  it('names the variable when a limit is malformed or out of range', () => {
    for (const value of ['300', '300/60', '1.5/1m', '-1/1m', 'ten/1m', '300/1d', 'OFF']) {
      const error = configError({ RATE_LIMIT_TOKEN: value });
      assert.equal(error.variable, 'RATE_LIMIT_TOKEN', value);
      assert.match(error.message, /<requests>\/<window>/);
    }
    assert.equal(configError({ RATE_LIMIT_MINT: '0/1m' }).variable, 'RATE_LIMIT_MINT');
    assert.equal(configError({ RATE_LIMIT_MINT: '10/0s' }).variable, 'RATE_LIMIT_MINT');
    assert.equal(configError({ RATE_LIMIT_MINT: '10/25h' }).variable, 'RATE_LIMIT_MINT');
    assert.equal(configError({ RATE_LIMITS: 'false' }).variable, 'RATE_LIMITS');
  });

  it('accepts proxy addresses, CIDR ranges and the Express names; refuses anything else', () => {
    const config = loadConfig({ ...base, TRUSTED_PROXIES: ' 10.0.0.0/8, 192.168.1.7 ,loopback, fd00::/8, ::1, uniquelocal,linklocal' });
    assert.deepEqual(config.trustedProxies, ['10.0.0.0/8', '192.168.1.7', 'loopback', 'fd00::/8', '::1', 'uniquelocal', 'linklocal']);
    for (const value of ['10.0.0.0/33', 'proxy.internal', '10.0.0.0/8/1', 'fd00::/129', '*', 'true']) {
      assert.equal(configError({ TRUSTED_PROXIES: value }).variable, 'TRUSTED_PROXIES', value);
    }
  });

  it('takes redis:// and rediss:// URLs only', () => {
    assert.equal(loadConfig({ ...base, REDIS_URL: 'redis://127.0.0.1:6379/0' }).redisUrl, 'redis://127.0.0.1:6379/0');
    assert.equal(loadConfig({ ...base, REDIS_URL: 'rediss://cache.internal:6380' }).redisUrl, 'rediss://cache.internal:6380');
    assert.equal(configError({ REDIS_URL: 'http://127.0.0.1:6379' }).variable, 'REDIS_URL');
  });
});
