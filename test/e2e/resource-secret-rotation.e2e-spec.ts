import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { sha256 } from '../../src/common/crypto.js';
import { AuditLog } from '../../src/audit/audit-log.js';
import { RecordCache } from '../../src/database/record-cache.js';
import { ResourcesService } from '../../src/resources/resources.service.js';
import { DATABASE_KINDS, skipUnless } from '../support/database.js';
import { createResource, startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { introspect, type TestResource } from '../support/flows.js';
import { latestSeq, queryAudit } from '../support/audit.js';

const TOKEN = 'not-a-token-anyone-issued';
const DAY = 86_400;

type Secrets = { registration_secret: string; previous_secret_expires_at: string | null };

for (const database of DATABASE_KINDS) {
  describe(`rotating a registration secret with an overlap (${database})`, { skip: skipUnless(database) }, () => {
    let gatehouse: RunningGatehouse;
    let counter = 0;

    before(async () => {
      gatehouse = await startGatehouse({ database });
    });
    after(async () => {
      await gatehouse?.close();
    });

    async function resource(): Promise<TestResource> {
      counter += 1;
      return createResource(gatehouse, { resource: `https://mcp${counter}.rotation.test/mcp`, scopes: ['docs:read'] });
    }

    /** Whether `secret` authenticates the resource at /introspect, as a bearer token and with Basic (both must agree). */
    async function accepted(target: TestResource, secret: string): Promise<boolean> {
      const bearer = (await introspect(gatehouse, { resource: target, via: 'bearer', secret }, TOKEN)).status;
      const basic = (await introspect(gatehouse, { resource: target, via: 'basic', secret }, TOKEN)).status;
      assert.equal(bearer, basic, 'bearer and basic authentication agree');
      assert.ok(bearer === 200 || bearer === 401, `status ${bearer}`);
      return bearer === 200;
    }

    async function rotate(id: string, body?: unknown): Promise<Secrets> {
      const response = await gatehouse.admin('POST', `/admin/resources/${id}/secret`, body);
      assert.equal(response.status, 200, JSON.stringify(response.body));
      assert.match(response.body.registration_secret, /^gh_rs_/);
      return response.body as Secrets;
    }

    async function row(id: string): Promise<{ current: string; previous: string | null; expires: Date | null }> {
      const [found] = (await gatehouse.db.query(
        'SELECT registration_secret_hash, previous_registration_secret_hash, previous_registration_secret_expires_at FROM resource_servers WHERE id = $1',
        [id],
      )) as Array<{ registration_secret_hash: string; previous_registration_secret_hash: string | null; previous_registration_secret_expires_at: Date | string | null }>;
      assert.ok(found);
      const expires = found.previous_registration_secret_expires_at;
      return { current: found.registration_secret_hash, previous: found.previous_registration_secret_hash, expires: expires === null ? null : new Date(expires) };
    }

    it('keeps the old secret valid for a day by default, beside the new one, and audits the expiry (never a secret)', async () => {
      const target = await resource();
      const since = await latestSeq(gatehouse);
      const before = Date.now();
      const rotated = await rotate(target.id);
      const after = Date.now();
      assert.ok(rotated.previous_secret_expires_at, 'an expiry is returned');
      const expires = Date.parse(rotated.previous_secret_expires_at);
      assert.ok(expires >= before + DAY * 1000 && expires <= after + DAY * 1000, rotated.previous_secret_expires_at);

      assert.equal(await accepted(target, target.registration_secret), true, 'the old secret still works during the overlap');
      assert.equal(await accepted(target, rotated.registration_secret), true, 'the new one works');
      assert.equal(await accepted(target, 'gh_rs_' + 'x'.repeat(43)), false, 'another secret does not');

      const stored = await row(target.id);
      assert.equal(stored.current, sha256(rotated.registration_secret));
      assert.equal(stored.previous, sha256(target.registration_secret));
      assert.equal(stored.expires?.toISOString(), rotated.previous_secret_expires_at);

      const events = (await queryAudit(gatehouse, { cursor: String(since) })).filter((event) => event.type === 'admin.resource_secret_rotated');
      assert.equal(events.length, 1);
      assert.deepEqual(events[0]!.data, { resource_id: target.id, overlap_seconds: DAY, previous_secret_expires_at: rotated.previous_secret_expires_at });
      assert.equal(events[0]!.actor.kind, 'admin');
      const text = JSON.stringify(events[0]);
      for (const secret of [target.registration_secret, rotated.registration_secret]) assert.ok(!text.includes(secret), 'no secret in the event');
    });

    // Past its expiry a cached row is refused too: secretMatches compares with the clock on every call (unit spec).
    it('refuses the old secret once its expiry has passed', async () => {
      const target = await resource();
      const rotated = await rotate(target.id, { overlap_seconds: 3600 });
      assert.equal(await accepted(target, target.registration_secret), true);
      // As if the overlap had passed: the expiry moves into the past, and the app forgets the rows it cached.
      await gatehouse.db.query(`UPDATE resource_servers SET previous_registration_secret_expires_at = now() - interval '1 second' WHERE id = $1`, [target.id]);
      gatehouse.app.get(RecordCache).evict('resource', [target.id]);
      assert.equal(await accepted(target, target.registration_secret), false, 'the expired secret is refused');
      assert.equal(await accepted(target, rotated.registration_secret), true, 'the new one still works');
    });

    it('revokes the old secret at once with overlap_seconds 0', async () => {
      const target = await resource();
      assert.equal(await accepted(target, target.registration_secret), true, 'cached before the rotation');
      const rotated = await rotate(target.id, { overlap_seconds: 0 });
      assert.equal(rotated.previous_secret_expires_at, null);
      assert.equal(await accepted(target, target.registration_secret), false);
      assert.equal(await accepted(target, rotated.registration_secret), true);
      const stored = await row(target.id);
      assert.deepEqual([stored.previous, stored.expires], [null, null]);
    });

    it('keeps only one previous secret: rotating again within the overlap drops the oldest', async () => {
      const target = await resource();
      const second = await rotate(target.id, { overlap_seconds: 3600 });
      const third = await rotate(target.id, { overlap_seconds: 600 });
      assert.equal(await accepted(target, target.registration_secret), false, 'the first secret is gone');
      assert.equal(await accepted(target, second.registration_secret), true, 'the second is the previous one now');
      assert.equal(await accepted(target, third.registration_secret), true);
      const stored = await row(target.id);
      assert.equal(stored.previous, sha256(second.registration_secret));
      assert.equal(stored.expires?.toISOString(), third.previous_secret_expires_at);
    });

    it('accepts the longest overlap, refuses bad ones with 400 naming the field, and changes nothing', async () => {
      const target = await resource();
      const longest = await rotate(target.id, { overlap_seconds: 30 * DAY });
      assert.ok(longest.previous_secret_expires_at);
      const stored = await row(target.id);
      // Earlier introspections' events are written behind: in before counting, so that only this case's writes count.
      await gatehouse.app.get(AuditLog).flushObservations();
      const events = await gatehouse.count('audit_events');
      const cases: Array<[unknown, RegExp]> = [
        [{ overlap_seconds: -1 }, /^overlap_seconds must not be less than 0/],
        [{ overlap_seconds: 30 * DAY + 1 }, /^overlap_seconds must not be greater than 2592000/],
        [{ overlap_seconds: 1.5 }, /^overlap_seconds must be an integer/],
        [{ overlap_seconds: '60' }, /^overlap_seconds must/],
        [{ overlap_seconds: null }, /^overlap_seconds/],
        [{ overlap: 60 }, /property overlap should not exist/],
        [[60], /./],
      ];
      for (const [body, message] of cases) {
        const response = await gatehouse.admin('POST', `/admin/resources/${target.id}/secret`, body);
        assert.equal(response.status, 400, JSON.stringify(body));
        assert.equal(response.body.error, 'invalid_request');
        assert.match(response.body.error_description, message, JSON.stringify(body));
      }
      const form = await fetch(`${gatehouse.url}/admin/resources/${target.id}/secret`, {
        method: 'POST',
        headers: { authorization: `Bearer ${gatehouse.adminToken}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: 'overlap_seconds=0',
      });
      assert.equal(form.status, 400);
      assert.deepEqual(await row(target.id), stored, 'the secrets are as they were');
      assert.equal(await gatehouse.count('audit_events'), events, 'nothing audited');
      assert.equal(await accepted(target, target.registration_secret), true, 'the old secret still works');
    });

    it('records the actor a caller names (a console operator) on every change', async () => {
      const service = gatehouse.app.get(ResourcesService);
      const actor = { kind: 'user' as const, id: '00000000-0000-4000-8000-000000000001' };
      const since = await latestSeq(gatehouse);
      const { resource: created } = await service.create({ name: 'By console', resource: 'https://console.rotation.test/mcp', scopes: ['a'] }, undefined, actor);
      await service.update(created.id, { access_token_ttl: 600 }, undefined, actor);
      const rotated = await service.rotateSecret(created.id, 0, undefined, actor);
      assert.equal(rotated.previousSecretExpiresAt, null);
      await service.delete(created.id, undefined, actor);
      const events = (await queryAudit(gatehouse, { cursor: String(since) })).filter((event) => event.type.startsWith('admin.resource_'));
      assert.deepEqual(
        events.map((event) => [event.type, event.actor]),
        ['admin.resource_created', 'admin.resource_updated', 'admin.resource_secret_rotated', 'admin.resource_deleted'].map((type) => [type, actor]),
      );
    });
  });
}
