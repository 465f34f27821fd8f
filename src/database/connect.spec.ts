import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { createServer, type AddressInfo } from 'node:net';
import type { LoggerService } from '@nestjs/common';
import { connectAtBoot, DatabaseUnreachable, maskDatabaseUrl, type BootClock } from './connect.js';

describe('maskDatabaseUrl', () => {
  it('hides the password wherever the URL carries one, and keeps the rest', () => {
    assert.equal(maskDatabaseUrl('postgres://gatehouse:hunter2@db.internal:5432/gatehouse'), 'postgres://gatehouse:****@db.internal:5432/gatehouse');
    assert.equal(maskDatabaseUrl('postgresql://gatehouse@db.internal/gatehouse?password=hunter2&sslmode=require'), 'postgresql://gatehouse@db.internal/gatehouse?password=****&sslmode=require');
    assert.equal(maskDatabaseUrl('postgres://db.internal/gatehouse'), 'postgres://db.internal/gatehouse');
  });
});

/** A port that refuses connections: taken and released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('connectAtBoot with PostgreSQL unreachable', () => {
  it('backs off 0.5 s doubling to 5 s until DATABASE_CONNECT_TIMEOUT_S, one warning per attempt, then DatabaseUnreachable', async () => {
    const port = await closedPort();
    let now = 0;
    const waits: number[] = [];
    const clock: BootClock = {
      now: () => now,
      sleep: async (ms) => {
        waits.push(ms);
        now += ms;
      },
    };
    const warnings: Array<{ msg: string; attempt: number }> = [];
    const logger: LoggerService = { log() {}, error() {}, warn: (entry: { msg: string; attempt: number }) => warnings.push(entry) };
    const database = { kind: 'postgres' as const, url: `postgres://gatehouse:hunter2@127.0.0.1:${port}/gatehouse`, preparedStatements: true, connectTimeoutSeconds: 20, queryTimeoutMs: 1000, poolIdleSeconds: 10 };
    const failure = await connectAtBoot(database, [], logger, clock).then(
      () => assert.fail('nothing listens there'),
      (error: unknown) => error,
    );
    assert.ok(failure instanceof DatabaseUnreachable, String(failure));
    assert.deepEqual(waits, [500, 1000, 2000, 4000, 5000, 5000, 2500]);
    assert.deepEqual(warnings.map((warning) => warning.attempt), [1, 2, 3, 4, 5, 6, 7, 8]);
    for (const { msg } of [...warnings, { msg: failure.message }]) {
      assert.ok(msg.includes(`DATABASE_URL=postgres://gatehouse:****@127.0.0.1:${port}/gatehouse`), msg);
      assert.ok(!msg.includes('hunter2'), msg);
    }
    assert.match(failure.message, /gave up after 8 attempts in 20 s \(DATABASE_CONNECT_TIMEOUT_S=20\); last error: .*ECONNREFUSED/);
  });
});
