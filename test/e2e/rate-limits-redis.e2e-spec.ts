import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { MemoryLogger, startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { readJson, type JsonResponse } from '../support/flows.js';
import { eventually } from '../support/audit.js';
import { redisUnavailable, startRedis, type TestRedis } from '../support/redis.js';

/**
 * Two Gatehouse apps sharing one Redis spend one budget per tracker; when Redis goes away each keeps limiting on
 * its own and stays up, and both go back to the shared budget when Redis returns. (test/e2e/multi-instance runs
 * the same as two real processes on PostgreSQL.)
 */
describe('rate limits shared through Redis', { skip: redisUnavailable() }, () => {
  let redis: TestRedis;
  let first: RunningGatehouse;
  let second: RunningGatehouse;
  const logs = new MemoryLogger();

  before(async () => {
    redis = await startRedis();
    // Behind a trusted (loopback) proxy, so each test can be a fresh client address.
    const env = { REDIS_URL: redis.url, TRUSTED_PROXIES: 'loopback', RATE_LIMIT_DISCOVERY: '4/1m' };
    [first, second] = await Promise.all([startGatehouse({ env, logger: logs }), startGatehouse({ env, logger: logs })]);
  });
  after(async () => {
    await Promise.all([first?.close(), second?.close()]);
    await redis?.dispose();
  });

  const metadata = async (gatehouse: RunningGatehouse, client: string): Promise<JsonResponse> =>
    readJson(await fetch(`${gatehouse.url}/.well-known/oauth-authorization-server`, { headers: { 'x-forwarded-for': client } }));
  const store = async (gatehouse: RunningGatehouse): Promise<string> => {
    const response = await readJson(await fetch(`${gatehouse.url}/readyz`));
    assert.equal(response.status, 200, response.text);
    return response.body.rate_limit_store as string;
  };

  it('spends one budget across both instances', async () => {
    assert.equal(await store(first), 'redis');
    const statuses = [];
    for (const gatehouse of [first, second, first, second, first, second]) statuses.push((await metadata(gatehouse, '198.51.100.1')).status);
    assert.deepEqual(statuses, [200, 200, 200, 200, 429, 429]);
    assert.equal((await metadata(second, '198.51.100.2')).status, 200, 'another client address has its own shared budget');
  });

  it('keeps limiting per instance while Redis is down, stays ready, and shares again once Redis is back', async () => {
    await redis.stop({ abrupt: true });
    const client = '198.51.100.3';
    // Each instance now counts alone: four each, then 429; nothing fails with a 5xx and nothing waits for Redis.
    const duringOutage: number[][] = [];
    for (const gatehouse of [first, second]) {
      const statuses = [];
      for (let i = 0; i < 5; i++) statuses.push((await metadata(gatehouse, client)).status);
      duringOutage.push(statuses);
    }
    console.log(`[redis down] statuses seen, per instance, for one address with a budget of 4: ${duringOutage.map((statuses) => statuses.join(' ')).join(' | ')}`);
    for (const statuses of duringOutage) assert.deepEqual(statuses, [200, 200, 200, 200, 429]);
    assert.equal(await store(first), 'memory-fallback');
    assert.equal(await store(second), 'memory-fallback');
    const warnings = logs.lines.filter((line) => line.includes('rate-limit store unreachable'));
    assert.equal(warnings.length, 2, 'one warning per instance for the outage, not one per request or reconnect attempt');
    const metrics = await (await fetch(`${first.url}/metrics`)).text();
    assert.match(metrics, /^gatehouse_rate_limit_store_degraded 1$/m);

    await redis.restart();
    await eventually(async () => (await store(first)) === 'redis' && (await store(second)) === 'redis', 'both instances back on Redis', 10_000);
    assert.ok(logs.lines.some((line) => line.includes('rate-limit store back')), 'the recovery is logged');
    const statuses = [];
    for (const gatehouse of [second, first, second, first, second]) statuses.push((await metadata(gatehouse, '198.51.100.4')).status);
    assert.deepEqual(statuses, [200, 200, 200, 200, 429], 'one shared budget again');
    assert.match(await (await fetch(`${first.url}/metrics`)).text(), /^gatehouse_rate_limit_store_degraded 0$/m);
  });
});
