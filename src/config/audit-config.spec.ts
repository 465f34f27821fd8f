import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { loadConfig } from './config.js';

const base = { DATA_DIR: '/tmp/gatehouse-config-test' };
const secret = 's'.repeat(32);

describe('audit and metrics configuration', () => {
  it('defaults: JSON lines on stdout, no webhook, 90 days, 1 s base and 5 min cap, no metrics token', () => {
    const config = loadConfig(base);
    assert.deepEqual(config.audit, {
      log: { kind: 'stdout' },
      webhook: null,
      retryBaseMs: 1000,
      retryMaxMs: 300_000,
      pollIntervalMs: 1000,
      retentionDays: 90,
      streamHeartbeatMs: 15_000,
    });
    assert.equal(config.metricsToken, null);
  });

  it('reads the log target, the webhook and the timings', () => {
    const config = loadConfig({
      ...base,
      AUDIT_LOG: 'off',
      AUDIT_WEBHOOK_URL: 'https://siem.example.com/hooks/gatehouse',
      AUDIT_WEBHOOK_SECRET: secret,
      AUDIT_WEBHOOK_TIMEOUT_MS: '2500',
      AUDIT_RETRY_BASE_MS: '50',
      AUDIT_RETRY_MAX_MS: '5000',
      AUDIT_RETENTION_DAYS: '0',
      METRICS_TOKEN: 'm'.repeat(40),
    });
    assert.deepEqual(config.audit.log, { kind: 'off' });
    assert.deepEqual(config.audit.webhook, { url: 'https://siem.example.com/hooks/gatehouse', secret, timeoutMs: 2500 });
    assert.equal(config.audit.retryBaseMs, 50);
    assert.equal(config.audit.retentionDays, 0);
    assert.equal(config.metricsToken, 'm'.repeat(40));
    assert.deepEqual(loadConfig({ ...base, AUDIT_LOG: 'audit/events.jsonl' }).audit.log.kind, 'file');
    assert.equal(loadConfig({ ...base, AUDIT_WEBHOOK_URL: 'http://127.0.0.1:9000/x', AUDIT_WEBHOOK_SECRET: secret }).audit.webhook?.url, 'http://127.0.0.1:9000/x');
  });

  it('stops on bad values, naming the variable', () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ AUDIT_WEBHOOK_URL: 'http://siem.example.com/x', AUDIT_WEBHOOK_SECRET: secret }, /AUDIT_WEBHOOK_URL must be an https URL/],
      [{ AUDIT_WEBHOOK_URL: 'https://siem.example.com/x' }, /AUDIT_WEBHOOK_SECRET is required/],
      [{ AUDIT_WEBHOOK_SECRET: secret }, /AUDIT_WEBHOOK_SECRET is set but AUDIT_WEBHOOK_URL is not/],
      [{ AUDIT_WEBHOOK_URL: 'https://siem.example.com/x', AUDIT_WEBHOOK_SECRET: 'short' }, /AUDIT_WEBHOOK_SECRET must be at least 32/],
      [{ AUDIT_WEBHOOK_URL: 'https://user:pw@siem.example.com/x', AUDIT_WEBHOOK_SECRET: secret }, /AUDIT_WEBHOOK_URL must not carry credentials/],
      [{ AUDIT_RETRY_BASE_MS: '1000', AUDIT_RETRY_MAX_MS: '10' }, /AUDIT_RETRY_MAX_MS must not be less than AUDIT_RETRY_BASE_MS/],
      [{ AUDIT_RETENTION_DAYS: 'forever' }, /AUDIT_RETENTION_DAYS must be a whole number/],
      [{ AUDIT_POLL_INTERVAL_MS: '1' }, /AUDIT_POLL_INTERVAL_MS must be a whole number of milliseconds from 10 to 60000 \(got "1"\)/],
      [{ METRICS_TOKEN: 'short' }, /METRICS_TOKEN must be at least 32/],
    ];
    for (const [env, message] of cases) assert.throws(() => loadConfig({ ...base, ...env }), message, JSON.stringify(env));
  });
});
