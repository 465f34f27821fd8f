import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { DATABASE_KINDS, skipUnless, withDatabaseAndParties, type TestDatabase } from '../support/database.js';
import type { Parties } from '../factories/rows.js';
import { AuthorizationCodeRepository } from '../../src/authorization/authorization-code.repository.js';
import { InteractionRepository } from '../../src/authorization/interaction.repository.js';
import { RefreshTokenRepository } from '../../src/tokens/grant.repository.js';
import { Database } from '../../src/database/database.module.js';

for (const kind of DATABASE_KINDS) {
  describe(`housekeeping deletes only what is past its use, in batches (${kind})`, { skip: skipUnless(kind) }, () => {
    let db: TestDatabase;
    let parties: Parties;

    withDatabaseAndParties(kind, (opened, inserted) => {
      db = opened;
      parties = inserted;
    });

    const count = async (table: string) => ((await db.dataSource.query(`SELECT count(*)::int AS n FROM ${table}`)) as Array<{ n: number }>)[0]!.n;

    it('interactions: old ones go (several batches), current ones stay', async () => {
      const insert = (expiresSql: string, n: number) =>
        db.dataSource.query(
          `INSERT INTO interactions (id, browser_hash, client_id, resource_id, redirect_uri, scopes, code_challenge, expires_at)
           SELECT md5(random()::text || g), 'h', $1, $2, 'http://127.0.0.1/cb', ARRAY['tools:read'], 'c', ${expiresSql} FROM generate_series(1, ${n}) g`,
          [parties.clientId, parties.resourceId],
        );
      await insert(`now() - interval '2 hours'`, 25);
      await insert(`now() + interval '10 minutes'`, 3);
      const repository = new InteractionRepository(db.dataSource, new Database(db.dataSource));
      const batches: number[] = [];
      for (;;) {
        const n = await repository.deleteExpired(new Date(Date.now() - 3600_000), 10);
        batches.push(n);
        if (n < 10) break;
      }
      assert.deepEqual(batches, [10, 10, 5], 'each call deletes at most its limit');
      assert.equal(await count('interactions'), 3);
    });

    it('codes and refresh tokens: only long-expired ones go', async () => {
      const code = (expires: string) =>
        db.dataSource.query(
          `INSERT INTO authorization_codes (code_hash, client_id, user_id, resource_id, scopes, redirect_uri, code_challenge, expires_at)
           VALUES ($1, $2, $3, $4, ARRAY['tools:read'], 'http://127.0.0.1/cb', 'c', ${expires})`,
          [randomBytes(16).toString('hex'), parties.clientId, parties.userId, parties.resourceId],
        );
      await code(`now() - interval '40 days'`);
      await code(`now() - interval '1 day'`);
      const token = (expires: string) =>
        db.dataSource.query(`INSERT INTO refresh_tokens (token_hash, grant_id, expires_at) VALUES ($1, $2, ${expires})`, [randomBytes(16).toString('hex'), parties.grantId]);
      await token(`now() - interval '2 days'`);
      await token(`now() + interval '2 days'`);

      assert.equal(await new AuthorizationCodeRepository(new Database(db.dataSource)).deleteExpired(new Date(Date.now() - 31 * 24 * 3600_000), 1000), 1);
      assert.equal(await count('authorization_codes'), 1);
      assert.equal(await new RefreshTokenRepository(new Database(db.dataSource)).deleteExpired(new Date(Date.now() - 24 * 3600_000), 1000), 1);
      assert.equal(await count('refresh_tokens'), 1);
    });
  });
}
