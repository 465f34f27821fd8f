import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import { FakeGithub } from '../fakes/fake-github.js';
import { Browser } from '../support/browser.js';
import { createResource, startGatehouse, type DatabaseKind, type RunningGatehouse } from '../support/gatehouse.js';
import { postgresUnavailable } from '../support/postgres.js';

/**
 * Single-use credentials under concurrency: authorization codes and refresh tokens are consumed with one
 * conditional UPDATE, so of two requests racing with the same value exactly one can win, on PGlite (one session,
 * transactions queued) and on PostgreSQL (real parallel transactions, the loser waiting on the row lock).
 */

interface TokenSuccess {
  access_token: string;
  token_type: string;
  expires_in: number;
  scope: string;
  refresh_token?: string;
}
interface TokenError {
  error: string;
  error_description?: string;
}
type TokenReply = { status: 200; body: TokenSuccess } | { status: number; body: TokenError };

const RESOURCE = 'http://127.0.0.1:1/concurrency-mcp';

function isSuccess(reply: TokenReply): reply is { status: 200; body: TokenSuccess } {
  return reply.status === 200;
}

for (const database of ['pglite', 'postgres'] as DatabaseKind[]) {
  describe(`concurrent use of single-use credentials (${database})`, { skip: database === 'postgres' && postgresUnavailable() }, () => {
    let github: FakeGithub;
    let gatehouse: RunningGatehouse;

    before(async () => {
      github = await new FakeGithub().start();
      // Strict refresh-token reuse: with a grace window concurrent refreshes are retries (refresh-grace.e2e-spec.ts).
      gatehouse = await startGatehouse({ database, github, env: { REFRESH_REUSE_GRACE_SECONDS: '0' } });
      await createResource(gatehouse, { resource: RESOURCE, scopes: ['tools:read'], default_scopes: ['tools:read'] });
    });

    after(async () => {
      await gatehouse?.close();
      await github?.stop();
    });

    async function token(params: Record<string, string>): Promise<TokenReply> {
      const response = await fetch(`${gatehouse.url}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams(params).toString(),
      });
      // RFC 6749 §5.1, §5.2: token responses, successes and errors alike, must not be cached.
      assert.equal(response.headers.get('cache-control'), 'no-store');
      return { status: response.status, body: (await response.json()) as TokenSuccess & TokenError };
    }

    /** A public client registered over HTTP, and a fresh authorization code for it (PKCE S256). */
    async function codeForNewClient(): Promise<{ clientId: string; redirectUri: string; code: string; verifier: string }> {
      const redirectUri = 'http://127.0.0.1:47012/callback';
      const registration = await fetch(`${gatehouse.url}/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ redirect_uris: [redirectUri], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], client_name: 'race client' }),
      });
      assert.equal(registration.status, 201);
      const clientId = ((await registration.json()) as { client_id: string }).client_id;

      const verifier = randomBytes(32).toString('base64url');
      const state = randomBytes(16).toString('base64url');
      const url = new URL(`${gatehouse.url}/authorize`);
      url.search = new URLSearchParams({
        client_id: clientId,
        response_type: 'code',
        redirect_uri: redirectUri,
        state,
        code_challenge: createHash('sha256').update(verifier).digest('base64url'),
        code_challenge_method: 'S256',
        resource: RESOURCE,
      }).toString();
      const callback = await new Browser().authorize(url.href, redirectUri);
      assert.equal(callback.searchParams.get('state'), state);
      const code = callback.searchParams.get('code');
      assert.ok(code, `no code in ${callback.href}`);
      return { clientId, redirectUri, code, verifier };
    }

    async function tokensForNewClient(): Promise<{ clientId: string; tokens: TokenSuccess; grantId: string }> {
      const { clientId, redirectUri, code, verifier } = await codeForNewClient();
      const reply = await token({ grant_type: 'authorization_code', client_id: clientId, code, code_verifier: verifier, redirect_uri: redirectUri, resource: RESOURCE });
      assert.ok(isSuccess(reply), JSON.stringify(reply));
      assert.ok(reply.body.refresh_token);
      return { clientId, tokens: reply.body, grantId: String(decodeJwt(reply.body.access_token).grant_id) };
    }

    async function grantRow(grantId: string): Promise<{ revoked_at: Date | null; revoked_reason: string | null }> {
      const rows = (await gatehouse.db.query('SELECT revoked_at, revoked_reason FROM grants WHERE id = $1', [grantId])) as Array<{ revoked_at: Date | null; revoked_reason: string | null }>;
      assert.equal(rows.length, 1, `grant ${grantId} exists`);
      return rows[0]!;
    }

    async function auditEvents(type: string, grantId: string): Promise<Array<{ data: Record<string, unknown> }>> {
      return (await gatehouse.db.query(`SELECT data FROM audit_events WHERE type = $1 AND data->>'grant_id' = $2`, [type, grantId])) as Array<{ data: Record<string, unknown> }>;
    }

    it('two concurrent refreshes with one refresh token: exactly one succeeds, and the reuse revokes the grant', async () => {
      const { clientId, tokens, grantId } = await tokensForNewClient();
      const refresh = { grant_type: 'refresh_token', client_id: clientId, refresh_token: tokens.refresh_token!, resource: RESOURCE };

      const replies = await Promise.all([token(refresh), token(refresh)]);

      const winners = replies.filter(isSuccess);
      const losers = replies.filter((reply) => !isSuccess(reply));
      assert.equal(winners.length, 1, `exactly one refresh succeeds: ${JSON.stringify(replies.map((r) => r.status))}`);
      assert.equal(losers.length, 1);
      assert.equal(losers[0]!.status, 400);
      assert.equal((losers[0]!.body as TokenError).error, 'invalid_grant');
      const winner = winners[0]!.body;
      assert.ok(winner.refresh_token);
      assert.notEqual(winner.refresh_token, tokens.refresh_token);

      // What happens next, by design: the loser presented a token that had just been rotated. The server cannot
      // tell a lost race from a stolen token being replayed, so it treats it as reuse (RFC 9700 §4.14.2) and
      // revokes the whole grant. The winner's brand-new refresh token dies with it: the client must authorize again.
      const afterwards = await token({ ...refresh, refresh_token: winner.refresh_token });
      assert.equal(afterwards.status, 400);
      assert.equal((afterwards.body as TokenError).error, 'invalid_grant');

      const grant = await grantRow(grantId);
      assert.ok(grant.revoked_at, 'grants.revoked_at is set');
      assert.equal(grant.revoked_reason, 'refresh_token_reuse');
      const reuse = await auditEvents('refresh_token.reuse_detected', grantId);
      assert.equal(reuse.length, 1, 'one reuse_detected event, for the losing request');
      assert.equal((await auditEvents('grant.revoked', grantId)).length, 1);
      const order = (await gatehouse.db.query(
        `SELECT type FROM audit_events WHERE type IN ('refresh_token.reuse_detected', 'grant.revoked') AND data->>'grant_id' = $1 ORDER BY seq`,
        [grantId],
      )) as Array<{ type: string }>;
      assert.deepEqual(order.map((row) => row.type), ['refresh_token.reuse_detected', 'grant.revoked'], 'detection, then the revocation it caused');
    });

    it('five concurrent refreshes: one winner, four invalid_grant, and the grant is revoked exactly once', async () => {
      const { clientId, tokens, grantId } = await tokensForNewClient();
      const refresh = { grant_type: 'refresh_token', client_id: clientId, refresh_token: tokens.refresh_token!, resource: RESOURCE };

      const replies = await Promise.all(Array.from({ length: 5 }, () => token(refresh)));

      assert.deepEqual(replies.map((reply) => reply.status).sort(), [200, 400, 400, 400, 400]);
      for (const reply of replies.filter((r) => !isSuccess(r))) assert.equal((reply.body as TokenError).error, 'invalid_grant');
      assert.ok((await grantRow(grantId)).revoked_at);
      assert.equal((await auditEvents('refresh_token.reuse_detected', grantId)).length, 4);
      const revoked = await auditEvents('grant.revoked', grantId);
      assert.equal(revoked.length, 1, 'racing revocations revoke once');
    });

    it('two concurrent exchanges of one authorization code: exactly one gets tokens', async () => {
      const { clientId, redirectUri, code, verifier } = await codeForNewClient();
      const exchange = { grant_type: 'authorization_code', client_id: clientId, code, code_verifier: verifier, redirect_uri: redirectUri, resource: RESOURCE };
      const grantsBefore = await gatehouse.count('grants');

      const replies = await Promise.all([token(exchange), token(exchange)]);

      const winners = replies.filter(isSuccess);
      const losers = replies.filter((reply) => !isSuccess(reply));
      assert.equal(winners.length, 1, `exactly one exchange succeeds: ${JSON.stringify(replies.map((r) => r.status))}`);
      assert.equal(losers[0]?.status, 400);
      assert.equal((losers[0]!.body as TokenError).error, 'invalid_grant');
      assert.equal(await gatehouse.count('grants'), grantsBefore + 1, 'one code, one grant');

      // The losing request is a second use of the code, which revokes what the code produced (RFC 6749 §4.1.2,
      // OAuth 2.1 §4.1.3): the winner's refresh token no longer works.
      const winner = winners[0]!.body;
      const grantId = String(decodeJwt(winner.access_token).grant_id);
      const grant = await grantRow(grantId);
      assert.ok(grant.revoked_at);
      assert.equal(grant.revoked_reason, 'authorization_code_replayed');
      assert.equal((await auditEvents('authorization_code.replayed', grantId)).length, 1);
      const refreshed = await token({ grant_type: 'refresh_token', client_id: clientId, refresh_token: winner.refresh_token!, resource: RESOURCE });
      assert.equal(refreshed.status, 400);
      assert.equal((refreshed.body as TokenError).error, 'invalid_grant');
    });
  });
}
