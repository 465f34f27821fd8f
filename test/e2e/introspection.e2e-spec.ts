import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { decodeProtectedHeader, generateKeyPair, SignJWT } from 'jose';
import { KeyService } from '../../src/keys/key.service.js';
import { AuditLog } from '../../src/audit/audit-log.js';
import { MetricsService } from '../../src/metrics/metrics.service.js';
import { createResource, startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { latestSeq } from '../support/audit.js';
import {
  assertOAuthError,
  basicAuthorization,
  databaseCounts,
  introspect,
  mintTokens,
  postForm,
  refreshTokens,
  registerClient,
  revoke,
  storageHash,
  type BodyEncoding,
  type MintedTokens,
  type TestClient,
  type TestResource,
  type TokenCaller,
} from '../support/flows.js';

/**
 * POST /introspect (RFC 7662) for both kinds of caller: resource servers (registration secret, as Basic with the
 * resource id or as a Bearer token) and confidential clients (client_secret_basic, client_secret_post). Every
 * caller gets the same table of tokens; what is "its own" differs: a resource server owns the tokens whose
 * audience it is, a client the tokens issued to it. Active answers have exactly the RFC 7662 §2.2 members
 * Gatehouse promises; inactive answers are exactly `{"active": false}`, whatever the reason.
 *
 * Tokens are minted at run time through the mint API; the expired and forged ones are signed here, the expired one
 * with Gatehouse's own active key so that nothing but `exp` makes it inactive.
 */

const INACTIVE = { active: false } as const;
const ACCESS_MEMBERS = ['active', 'aud', 'client_id', 'exp', 'iat', 'iss', 'jti', 'scope', 'sub', 'token_type'];
const REFRESH_MEMBERS = ACCESS_MEMBERS.filter((member) => member !== 'jti');

type Answer = Record<string, unknown>;

interface CallerCase {
  name: string;
  kind: 'resource' | 'client';
  caller: TokenCaller;
  /** The client whose tokens (for resource A) this caller introspects as its own. */
  owner: TestClient;
}

interface Row {
  name: string;
  token: string;
  /** The exact answer. */
  expected: Answer;
}

describe('introspection (pglite)', () => {
  let gatehouse: RunningGatehouse;
  let resourceA: TestResource;
  let resourceB: TestResource;
  /** Confidential clients: basic and post, plus a third whose tokens nobody else may see. */
  let basicClient: TestClient;
  let postClient: TestClient;
  let otherClient: TestClient;
  let publicClient: TestClient;
  let callers: CallerCase[];

  before(async () => {
    gatehouse = await startGatehouse();
    resourceA = await createResource(gatehouse, { name: 'A', resource: 'https://a.example.test/mcp', scopes: ['tools:read', 'tools:execute'], default_scopes: ['tools:read'] });
    resourceB = await createResource(gatehouse, { name: 'B', resource: 'https://b.example.test/mcp', scopes: ['tools:read'], default_scopes: ['tools:read'] });
    basicClient = await registerClient(gatehouse, { client_name: 'Basic', token_endpoint_auth_method: 'client_secret_basic' });
    postClient = await registerClient(gatehouse, { client_name: 'Post', token_endpoint_auth_method: 'client_secret_post' });
    otherClient = await registerClient(gatehouse, { client_name: 'Other', token_endpoint_auth_method: 'client_secret_basic' });
    publicClient = await registerClient(gatehouse, { client_name: 'Public', token_endpoint_auth_method: 'none' });
    assert.ok(basicClient.client_secret && postClient.client_secret && otherClient.client_secret);
    callers = [
      { name: 'resource server, Basic id:secret', kind: 'resource', caller: { resource: resourceA, via: 'basic' }, owner: basicClient },
      { name: 'resource server, Bearer secret', kind: 'resource', caller: { resource: resourceA, via: 'bearer' }, owner: postClient },
      { name: 'client, client_secret_basic', kind: 'client', caller: { client: basicClient }, owner: basicClient },
      { name: 'client, client_secret_post', kind: 'client', caller: { client: postClient }, owner: postClient },
    ];
  });
  after(async () => {
    await gatehouse?.close();
  });

  const keys = () => gatehouse.app.get(KeyService);

  function accessAnswer(minted: Pick<MintedTokens, 'claims'>): Answer {
    const { scope, client_id, sub, aud, iss, exp, iat, jti } = minted.claims;
    return { active: true, scope, client_id, sub, aud, iss, exp, iat, jti, token_type: 'Bearer' };
  }

  /** The exact answer for a live refresh token: times from its row, the rest from the access token minted with it. */
  async function refreshAnswer(refreshToken: string, minted: MintedTokens, grantScope = minted.scope): Promise<Answer> {
    const rows = (await gatehouse.db.query('SELECT created_at, expires_at FROM refresh_tokens WHERE token_hash = $1', [storageHash(refreshToken)])) as Array<{
      created_at: Date;
      expires_at: Date;
    }>;
    const row = rows[0];
    assert.ok(row, 'the refresh token is stored');
    const { client_id, sub, aud, iss } = minted.claims;
    return {
      active: true,
      scope: grantScope,
      client_id,
      sub,
      aud,
      iss,
      exp: Math.floor(new Date(row.expires_at).getTime() / 1000),
      iat: Math.floor(new Date(row.created_at).getTime() / 1000),
      token_type: 'refresh_token',
    };
  }

  /** Credentials that can use the owner's refresh tokens at /token. */
  const asClient = (client: TestClient) => ({ client });
  const resourceBearer = (): TokenCaller => ({ resource: resourceA, via: 'bearer' });

  /** Garbage, and JWTs Gatehouse did not sign (or signed as something other than an access token). */
  async function forgedTokens(template: MintedTokens): Promise<Array<[string, string]>> {
    const [header, payload, signature] = template.accessToken.split('.') as [string, string, string];
    const { kid } = decodeProtectedHeader(template.accessToken);
    assert.ok(kid);
    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const another = await mintTokens(gatehouse, resourceA, { client_id: template.claims.client_id, subject: `forge-${randomUUID()}` });
    const otherSignature = another.accessToken.split('.')[2] ?? '';
    const { privateKey: foreignKey } = await generateKeyPair('ES256');
    const signedByAnotherKey = await new SignJWT({ ...template.claims, jti: randomUUID() }).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid }).sign(foreignKey);
    const hsHeader = b64({ alg: 'HS256', typ: 'at+jwt', kid });
    const publicJwk = JSON.stringify(keys().jwks().keys.find((key) => key.kid === kid));
    const hsSigned = `${hsHeader}.${payload}.${createHmac('sha256', publicJwk).update(`${hsHeader}.${payload}`).digest('base64url')}`;
    const noneHeader = b64({ alg: 'none', typ: 'at+jwt' });
    const tamperedPayload = b64({ ...template.claims, scope: 'tools:admin', exp: template.claims.exp + 86_400 });
    return [
      ['a single character', 'x'],
      ['random text', randomBytes(24).toString('hex')],
      ['three dots', '...'],
      ['JSON-looking text', '{"active":true}'],
      ['a refresh-token prefix alone', 'gh_rt_'],
      ['a refresh token that was never issued', `gh_rt_${randomBytes(32).toString('base64url')}`],
      ['a registration secret', resourceA.registration_secret],
      ['a JWT with alg none and no signature', `${noneHeader}.${payload}.`],
      ['a JWT with alg none and a signature part', `${noneHeader}.${payload}.${signature}`],
      ['a JWT with another token’s signature', `${header}.${payload}.${otherSignature}`],
      ['a JWT whose payload was changed', `${header}.${tamperedPayload}.${signature}`],
      ['a JWT with a truncated signature', `${header}.${payload}.${signature.slice(0, -4)}`],
      ['a JWT signed by another key under Gatehouse’s kid', signedByAnotherKey],
      ['a JWT HMAC-signed with the public key (alg confusion)', hsSigned],
      ['a JWT signed by Gatehouse but typ JWT', keys().signJwt({ ...template.claims, jti: randomUUID() }, 'JWT')],
      ['a JWT signed by Gatehouse for another issuer', keys().signJwt({ ...template.claims, jti: randomUUID(), iss: 'https://evil.example.test' }, 'at+jwt')],
      ['a JWT signed by Gatehouse without grant_id', keys().signJwt({ ...template.claims, jti: randomUUID(), grant_id: undefined }, 'at+jwt')],
    ];
  }

  /** Mints this caller's tokens and puts each in the state its row needs. */
  async function rowsFor({ kind, owner }: CallerCase): Promise<Row[]> {
    const subject = `user-${randomUUID()}`;
    const mint = (resource: TestResource, client: TestClient, scopes?: string[]) => mintTokens(gatehouse, resource, { client_id: client.client_id, subject, ...(scopes ? { scopes } : {}) });
    const now = Math.floor(Date.now() / 1000);

    const live = await mint(resourceA, owner, ['tools:read', 'tools:execute']);

    // The same claims, signed with Gatehouse's active key: once already expired, once with a fresh exp (the control).
    const expired = keys().signJwt({ ...live.claims, jti: randomUUID(), iat: now - 120, exp: now - 10 }, 'at+jwt');
    const freshClaims = { ...live.claims, jti: randomUUID(), iat: now, exp: now + 600 };
    const fresh = keys().signJwt(freshClaims, 'at+jwt');

    const rotating = await mint(resourceA, owner);
    const rotated = await refreshTokens(gatehouse, asClient(owner), rotating.refreshToken);
    assert.equal(rotated.status, 200, rotated.text);
    const successor = rotated.body.refresh_token as string;

    const accessRevoked = await mint(resourceA, owner);
    assert.equal((await revoke(gatehouse, resourceBearer(), accessRevoked.accessToken)).status, 200);

    const grantRevoked = await mint(resourceA, owner);
    assert.equal((await revoke(gatehouse, resourceBearer(), grantRevoked.refreshToken)).status, 200);

    const otherResource = await mint(resourceB, owner);
    const otherClients = await mint(resourceA, otherClient);

    const ownOnly = (mine: Answer): { resource: Answer; client: Answer } => ({ resource: mine, client: mine });
    const rows: Array<{ name: string; token: string } & ({ expected: Answer } | { byKind: { resource: Answer; client: Answer } })> = [
      { name: 'active access token', token: live.accessToken, expected: accessAnswer(live) },
      { name: 'active refresh token', token: live.refreshToken, expected: await refreshAnswer(live.refreshToken, live) },
      { name: 'expired access token', token: expired, expected: INACTIVE },
      { name: 'a fresh copy of the expired token (control)', token: fresh, expected: accessAnswer({ claims: freshClaims }) },
      { name: 'rotated refresh token', token: rotating.refreshToken, expected: INACTIVE },
      { name: 'the refresh token that replaced it', token: successor, expected: await refreshAnswer(successor, rotating) },
      { name: 'access token minted before the rotation', token: rotating.accessToken, expected: accessAnswer(rotating) },
      { name: 'revoked access token', token: accessRevoked.accessToken, expected: INACTIVE },
      { name: 'refresh token of the grant whose access token was revoked', token: accessRevoked.refreshToken, expected: await refreshAnswer(accessRevoked.refreshToken, accessRevoked) },
      { name: 'access token of a revoked grant', token: grantRevoked.accessToken, expected: INACTIVE },
      { name: 'revoked refresh token', token: grantRevoked.refreshToken, expected: INACTIVE },
      {
        name: 'access token for another resource server',
        token: otherResource.accessToken,
        byKind: { resource: INACTIVE, client: accessAnswer(otherResource) },
      },
      {
        name: 'refresh token for another resource server',
        token: otherResource.refreshToken,
        byKind: { resource: INACTIVE, client: await refreshAnswer(otherResource.refreshToken, otherResource) },
      },
      {
        name: 'access token of another client',
        token: otherClients.accessToken,
        byKind: { resource: accessAnswer(otherClients), client: INACTIVE },
      },
      {
        name: 'refresh token of another client',
        token: otherClients.refreshToken,
        byKind: { resource: await refreshAnswer(otherClients.refreshToken, otherClients), client: INACTIVE },
      },
      ...(await forgedTokens(live)).map(([name, token]) => ({ name, token, byKind: ownOnly(INACTIVE) })),
    ];
    return rows.map((row) => ({ name: row.name, token: row.token, expected: 'expected' in row ? row.expected : row.byKind[kind] }));
  }

  function assertAnswer(response: Awaited<ReturnType<typeof introspect>>, expected: Answer, where: string): void {
    assert.equal(response.status, 200, `${where}: ${response.text}`);
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/, where);
    assert.equal(response.headers.get('cache-control'), 'no-store', `${where}: Cache-Control`);
    assert.deepEqual(response.body, expected, where);
    const members = Object.keys(response.body as Answer).sort();
    if (expected.active === false) assert.deepEqual(members, ['active'], `${where}: an inactive answer says nothing else`);
    else assert.deepEqual(members, expected.token_type === 'refresh_token' ? REFRESH_MEMBERS : ACCESS_MEMBERS, `${where}: members`);
  }

  it('answers the whole token table exactly, for resource servers and confidential clients, form-encoded and JSON', async () => {
    let checked = 0;
    for (const callerCase of callers) {
      const rows = await rowsFor(callerCase);
      // At least one row is active and one inactive for every caller, so the table cannot pass by answering one way.
      assert.ok(rows.some((row) => row.expected.active === true) && rows.some((row) => row.expected.active === false));
      const before = await databaseCounts(gatehouse);
      const recordedPerPass: Array<Array<{ outcome: string; jti: string | null; repeats: number }>> = [];
      for (const encoding of ['form', 'json'] as BodyEncoding[]) {
        const start = await latestSeqAfterFlush();
        for (const row of rows) {
          const response = await introspect(gatehouse, callerCase.caller, row.token, { encoding });
          assertAnswer(response, row.expected, `${callerCase.name}, ${encoding}: ${row.name}`);
          checked++;
        }
        await gatehouse.app.get(AuditLog).flushObservations();
        recordedPerPass.push(
          (await gatehouse.db.query(`SELECT type, outcome, data->>'jti' AS jti, (data->>'repeats')::int AS repeats FROM audit_events WHERE seq > $1 ORDER BY seq`, [start])).map(
            (event: { type: string; outcome: string; jti: string | null; repeats: number }) => {
              assert.equal(event.type, 'token.introspected');
              return { outcome: event.outcome, jti: event.jti, repeats: event.repeats };
            },
          ),
        );
      }
      // Introspection changes nothing; it only records token.introspected, active or not (written behind). The first
      // pass records every answer (these tokens are new to this caller); the second repeats each, so it records only
      // the answers about tokens without a verified jti (refresh tokens, garbage), each saying it repeats nothing.
      const [first, second] = recordedPerPass as [typeof recordedPerPass[number], typeof recordedPerPass[number]];
      assert.deepEqual(first.map((event) => event.outcome), rows.map((row) => (row.expected.active ? 'active' : 'inactive')), `${callerCase.name}: one event per first answer`);
      assert.ok(first.every((event) => event.repeats === 0));
      const withoutJti = first.filter((event) => event.jti === null);
      assert.ok(withoutJti.length > 0 && withoutJti.length < first.length, 'the table has answers of both kinds');
      assert.deepEqual(second, withoutJti, `${callerCase.name}: a repeated answer about an access token is not recorded again`);
      assert.deepEqual(await databaseCounts(gatehouse), { ...before, audit_events: before.audit_events! + first.length + second.length }, `${callerCase.name}: introspection writes only its events`);
    }
    assert.ok(checked > 100);
  });

  it('ignores token_type_hint: a wrong or unknown hint changes no answer', async () => {
    const minted = await mintTokens(gatehouse, resourceA, { client_id: basicClient.client_id, subject: `hint-${randomUUID()}` });
    const caller: TokenCaller = { client: basicClient };
    for (const hint of ['refresh_token', 'access_token', 'something_else']) {
      assertAnswer(await introspect(gatehouse, caller, minted.accessToken, { params: { token_type_hint: hint } }), accessAnswer(minted), `access token, hint ${hint}`);
      assertAnswer(await introspect(gatehouse, caller, minted.refreshToken, { params: { token_type_hint: hint } }), await refreshAnswer(minted.refreshToken, minted), `refresh token, hint ${hint}`);
    }
  });

  it('answers 401 to callers with wrong credentials, and to public clients, whatever the token', async () => {
    const minted = await mintTokens(gatehouse, resourceA, { client_id: basicClient.client_id, subject: `auth-${randomUUID()}` });
    const unknownSecret = `gh_rs_${randomBytes(32).toString('base64url')}`;
    const cases: Array<[string, TokenCaller, number, string, RegExp | null]> = [
      ['resource Basic with a wrong secret', { resource: resourceA, via: 'basic', secret: `${resourceA.registration_secret}x` }, 401, 'invalid_client', /^Basic /],
      ['resource Basic with another resource’s secret', { resource: resourceA, via: 'basic', secret: resourceB.registration_secret }, 401, 'invalid_client', /^Basic /],
      ['resource Basic with an empty secret', { resource: resourceA, via: 'basic', secret: '' }, 401, 'invalid_client', /^Basic /],
      ['resource Basic with an unknown resource id', { resource: { id: randomUUID(), registration_secret: resourceA.registration_secret }, via: 'basic' }, 401, 'invalid_client', /^Basic /],
      ['Bearer with an unknown registration secret', { resource: resourceA, via: 'bearer', secret: unknownSecret }, 401, 'invalid_token', /^Bearer realm="gatehouse", error="invalid_token"/],
      ['Bearer with a client secret', { resource: resourceA, via: 'bearer', secret: basicClient.client_secret! }, 401, 'invalid_token', /^Bearer /],
      ['Bearer with the access token itself', { resource: resourceA, via: 'bearer', secret: minted.accessToken }, 401, 'invalid_token', /^Bearer /],
      ['client_secret_basic with a wrong secret', { client: basicClient, secret: `${basicClient.client_secret}x` }, 401, 'invalid_client', /^Basic /],
      ['client_secret_basic with another client’s secret', { client: basicClient, secret: otherClient.client_secret! }, 401, 'invalid_client', /^Basic /],
      ['client_secret_post with a wrong secret', { client: postClient, secret: 'gh_cs_wrong' }, 401, 'invalid_client', null],
      ['client_secret_post client using Basic', { client: postClient, method: 'client_secret_basic' }, 401, 'invalid_client', /^Basic /],
      ['public client with its client_id only', { client: publicClient }, 401, 'invalid_client', null],
      ['public client inventing a secret', { client: publicClient, method: 'client_secret_post', secret: 'made-up' }, 401, 'invalid_client', null],
      ['client_id that does not exist', { client: { client_id: randomUUID(), token_endpoint_auth_method: 'none' } }, 401, 'invalid_client', null],
    ];
    const before = await databaseCounts(gatehouse);
    for (const encoding of ['form', 'json'] as BodyEncoding[]) {
      for (const [name, caller, status, error, challenge] of cases) {
        for (const token of [minted.accessToken, minted.refreshToken]) {
          const response = await introspect(gatehouse, caller, token, { encoding });
          assertOAuthError(response, status, error, `${name} (${encoding})`);
          assert.equal(response.body.active, undefined, `${name}: no introspection answer`);
          if (challenge) assert.match(response.headers.get('www-authenticate') ?? '', challenge, `${name}: WWW-Authenticate`);
        }
      }
    }
    // No credentials at all.
    const anonymous = await fetch(`${gatehouse.url}/introspect`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: minted.accessToken }) });
    assert.equal(anonymous.status, 401);
    assert.equal(((await anonymous.json()) as { error: string }).error, 'invalid_client');
    assert.deepEqual(await databaseCounts(gatehouse), before, 'failed authentication writes nothing');

    // The same tokens are active for the right credentials: the 401s were about the caller, not the token.
    assertAnswer(await introspect(gatehouse, { resource: resourceA, via: 'basic' }, minted.accessToken), accessAnswer(minted), 'control');
    assertAnswer(await introspect(gatehouse, { client: basicClient }, minted.refreshToken), await refreshAnswer(minted.refreshToken, minted), 'control');
  });

  /** The latest seq once every queued observation is written. */
  async function latestSeqAfterFlush(): Promise<number> {
    await gatehouse.app.get(AuditLog).flushObservations();
    return latestSeq(gatehouse);
  }

  it('writes token.introspected behind the answer, with the request’s context, and writes what is queued before the database closes on shutdown', async () => {
    const minted = await Promise.all([1, 2, 3].map((n) => mintTokens(gatehouse, resourceA, { client_id: basicClient.client_id, subject: `behind-${n}-${randomUUID()}` })));
    // Earlier tests' introspections may still be queued: written now, they are not counted below.
    const start = await latestSeqAfterFlush();
    const answers = await Promise.all(
      [1, 2, 3].map((n) =>
        postForm(`${gatehouse.url}/introspect`, { token: minted[n - 1]!.accessToken }, {
          authorization: basicAuthorization(resourceA.id, resourceA.registration_secret),
          'x-request-id': `behind-${n}`,
          'user-agent': `Behind/${n}`,
        }),
      ),
    );
    assert.deepEqual(answers.map((answer) => answer.body.active), [true, true, true]);
    // Stopped at once: the events are most likely still queued (the queue waits tens of ms), and must not be lost.
    gatehouse = await gatehouse.restart();
    const rows = (await gatehouse.db.query(`SELECT type, request_id, user_agent, data->>'jti' AS jti FROM audit_events WHERE seq > $1 ORDER BY request_id`, [start])) as Array<Record<string, string>>;
    assert.deepEqual(
      rows,
      [1, 2, 3].map((n) => ({ type: 'token.introspected', request_id: `behind-${n}`, user_agent: `Behind/${n}`, jti: minted[n - 1]!.claims.jti })),
    );
  });

  it('records a repeated answer once, another caller’s and a changed answer at once, and counts every answer', async () => {
    const minted = await mintTokens(gatehouse, resourceA, { client_id: basicClient.client_id, subject: `repeat-${randomUUID()}` });
    const resourceCaller: TokenCaller = { resource: resourceA, via: 'basic' };
    const start = await latestSeqAfterFlush();
    const metric = async (outcome: string) => (await gatehouse.app.get(MetricsService).introspections.get()).values.find((sample) => sample.labels.outcome === outcome)?.value ?? 0;
    const activeBefore = await metric('active');
    for (let i = 0; i < 4; i++) assert.equal((await introspect(gatehouse, resourceCaller, minted.accessToken)).body.active, true);
    // The same token, another caller: its own first answer.
    assert.equal((await introspect(gatehouse, { client: basicClient }, minted.accessToken)).body.active, true);
    assert.equal((await revoke(gatehouse, resourceCaller, minted.accessToken)).status, 200);
    for (let i = 0; i < 2; i++) assert.equal((await introspect(gatehouse, resourceCaller, minted.accessToken)).body.active, false);
    await gatehouse.app.get(AuditLog).flushObservations();
    const events = (await gatehouse.db.query(
      `SELECT actor_kind, outcome, data->>'reason' AS reason, (data->>'repeats')::int AS repeats FROM audit_events WHERE seq > $1 AND type = 'token.introspected' ORDER BY seq`,
      [start],
    )) as Array<Record<string, unknown>>;
    assert.deepEqual(events, [
      { actor_kind: 'resource', outcome: 'active', reason: null, repeats: 0 },
      { actor_kind: 'client', outcome: 'active', reason: null, repeats: 0 },
      { actor_kind: 'resource', outcome: 'inactive', reason: 'revoked', repeats: 0 },
    ]);
    // Every answer is counted, recorded or not.
    assert.equal((await metric('active')) - activeBefore, 5);
  });
});
