import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeJwt } from 'jose';
import { AccessTokenStandings } from '../../src/tokens/access-token-standings.js';
import { AccountService } from '../../src/account/account.service.js';
import { RecordCache } from '../../src/database/record-cache.js';
import { LISTENER_APPLICATION_NAME } from '../../src/database/record-cache-listener.js';
import { createResource, startGatehouse, type DatabaseKind, type RunningGatehouse } from '../support/gatehouse.js';
import { postgresUnavailable } from '../support/postgres.js';
import {
  assertOAuthError,
  basicAuthorization,
  grantUserId,
  introspect,
  mintTokens,
  postForm,
  refreshTokens,
  revoke,
  type ClientCredentials,
  type MintedTokens,
  type TestResource,
  type TokenCaller,
} from '../support/flows.js';

/**
 * Introspection answers a verified access token already found live from memory (AccessTokenStandings), and every
 * way of ending a token reaches that memory: on the instance that ended it before its answer (an introspection
 * right after says inactive), on the other instances through PostgreSQL NOTIFY within the bound docs/operations.md
 * states (NOTIFY_BOUND_MS here), and while an instance's listener is down its memory is emptied and bypassed.
 *
 * Each case first proves the token is remembered (otherwise it would prove nothing), then ends it one way.
 */

/** docs/operations.md: a revocation reaches the other instances' memory within 10 s at worst (usually milliseconds). */
const NOTIFY_BOUND_MS = 10_000;

function standingsOf(gatehouse: RunningGatehouse): AccessTokenStandings {
  return gatehouse.app.get(AccessTokenStandings);
}

async function active(gatehouse: RunningGatehouse, caller: TokenCaller, token: string): Promise<boolean> {
  const response = await introspect(gatehouse, caller, token);
  assert.equal(response.status, 200, response.text);
  return response.body.active as boolean;
}

/** Introspects `token` at `gatehouse` until it is remembered live there. */
async function remembered(gatehouse: RunningGatehouse, caller: TokenCaller, token: string): Promise<void> {
  assert.equal(await active(gatehouse, caller, token), true, 'active');
  assert.equal(await active(gatehouse, caller, token), true, 'active again');
  assert.equal(standingsOf(gatehouse).has(decodeJwt(token).jti!), true, `remembered live at ${gatehouse.url} (otherwise this test proves nothing)`);
}

/** A confidential client (client_secret_basic) made through the admin API, so that no registration budget is spent. */
async function confidentialClient(gatehouse: RunningGatehouse, grantTypes = ['authorization_code', 'refresh_token']): Promise<ClientCredentials> {
  const created = await gatehouse.admin('POST', '/admin/clients', {
    client_name: 'Introspection cache',
    ...(grantTypes.includes('authorization_code') ? { redirect_uris: ['http://127.0.0.1:47121/callback'] } : {}),
    grant_types: grantTypes,
    token_endpoint_auth_method: 'client_secret_basic',
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return { client: created.body };
}

interface Issued {
  client: ClientCredentials;
  tokens: MintedTokens;
}

/** A fresh client with a fresh grant for a fresh user of `resource`. */
async function issue(gatehouse: RunningGatehouse, resource: TestResource): Promise<Issued> {
  const client = await confidentialClient(gatehouse);
  const tokens = await mintTokens(gatehouse, resource, { client_id: client.client.client_id, subject: `user-${randomUUID()}` });
  return { client, tokens };
}

/** The ways of ending an access token, each done at `at` (an instance on the same database as the one that remembers it). */
interface Ending {
  name: string;
  end: (at: RunningGatehouse, issued: Issued, resource: TestResource) => Promise<void>;
  /** It ends every grant of the client, not only the token's. */
  wholeClient?: boolean;
}

const ENDINGS: Ending[] = [
  {
    name: '/revoke of the access token (RFC 7009, by the resource server)',
    end: async (at, { tokens }, resource) => assert.equal((await revoke(at, { resource, via: 'bearer' }, tokens.accessToken)).status, 200),
  },
  {
    name: '/revoke of the refresh token (by the client: its grant)',
    end: async (at, { client, tokens }) => assert.equal((await revoke(at, client, tokens.refreshToken)).status, 200),
  },
  {
    name: "the admin API revoking the user's grants",
    end: async (at, { tokens }) => assert.equal((await at.admin('DELETE', `/admin/users/${await grantUserId(at, tokens.claims.grant_id)}/grants`)).status, 200),
  },
  {
    name: "the admin API revoking the client's grants",
    end: async (at, { client }) => assert.equal((await at.admin('DELETE', `/admin/clients/${client.client.client_id}/grants`)).status, 200),
    wholeClient: true,
  },
  {
    name: 'the account page (the user revokes the grant)',
    end: async (at, { tokens }) => {
      const userId = await grantUserId(at, tokens.claims.grant_id);
      assert.equal(await at.app.get(AccountService).revoke(userId, tokens.claims.grant_id, undefined), 'revoked');
    },
  },
  {
    name: 'disabling the user',
    end: async (at, { tokens }) => assert.equal((await at.admin('POST', `/admin/users/${await grantUserId(at, tokens.claims.grant_id)}/disable`)).status, 200),
  },
  {
    name: 'deleting the client',
    end: async (at, { client }) => assert.equal((await at.admin('DELETE', `/admin/clients/${client.client.client_id}`)).status, 204),
    wholeClient: true,
  },
  {
    name: 'refresh-token reuse (the grant family is revoked)',
    end: async (at, { client, tokens }) => {
      assert.equal((await refreshTokens(at, client, tokens.refreshToken)).status, 200);
      assertOAuthError(await refreshTokens(at, client, tokens.refreshToken), 400, 'invalid_grant');
    },
  },
];

for (const database of ['pglite', 'postgres'] as DatabaseKind[]) {
  describe(`introspection from memory, one instance (${database})`, { skip: database === 'postgres' && postgresUnavailable() }, () => {
    let gatehouse: RunningGatehouse;
    let resource: TestResource;
    let asResource: TokenCaller;

    before(async () => {
      // Reuse is refused at once (no retry grace), so that presenting a rotated refresh token again revokes the grant.
      gatehouse = await startGatehouse({ database, env: { REFRESH_REUSE_GRACE_SECONDS: '0' } });
      resource = await createResource(gatehouse, { resource: 'https://mcp.introspection-cache.test/mcp', scopes: ['tools:read'], default_scopes: ['tools:read'] });
      asResource = { resource, via: 'bearer' };
      if (database === 'postgres') await waitForMode(gatehouse, 'listening');
    });
    after(async () => {
      await gatehouse?.close();
    });

    for (const ending of ENDINGS) {
      it(`${ending.name}: inactive on the next introspection`, async () => {
        const issued = await issue(gatehouse, resource);
        const sibling = await mintTokens(gatehouse, resource, { client_id: issued.client.client.client_id, subject: `user-${randomUUID()}` });
        await remembered(gatehouse, asResource, issued.tokens.accessToken);
        await remembered(gatehouse, asResource, sibling.accessToken);
        await ending.end(gatehouse, issued, resource);
        assert.deepEqual((await introspect(gatehouse, asResource, issued.tokens.accessToken)).body, { active: false });
        // A token of another grant (another user's, same client) is ended only when the whole client's are.
        assert.equal(await active(gatehouse, asResource, sibling.accessToken), !ending.wholeClient, 'another grant of the same client');
      });
    }

    it('deleting the resource server: its tokens are inactive for their client at once', async () => {
      const doomed = await createResource(gatehouse, { resource: 'https://mcp.introspection-cache-doomed.test/mcp', scopes: ['tools:read'], default_scopes: ['tools:read'] });
      const { client, tokens } = await issue(gatehouse, doomed);
      await remembered(gatehouse, client, tokens.accessToken);
      assert.equal((await gatehouse.admin('DELETE', `/admin/resources/${doomed.id}`)).status, 204);
      assert.deepEqual((await introspect(gatehouse, client, tokens.accessToken)).body, { active: false });
    });

    it('a client credentials token: inactive at once when its permission is narrowed or removed', async () => {
      const machine = await confidentialClient(gatehouse, ['client_credentials']);
      const permission = `/admin/clients/${machine.client.client_id}/client-credentials/${resource.id}`;
      const tokenFor = async (): Promise<string> => {
        const issued = await postForm(
          `${gatehouse.url}/token`,
          { grant_type: 'client_credentials', resource: resource.resource },
          { authorization: basicAuthorization(machine.client.client_id, machine.client.client_secret!) },
        );
        assert.equal(issued.status, 200, issued.text);
        return issued.body.access_token as string;
      };
      assert.equal((await gatehouse.admin('PUT', permission, { scopes: ['tools:read'] })).status, 200);
      const first = await tokenFor();
      await remembered(gatehouse, asResource, first);
      // The same scopes again: the permission keeps its id, the token stays live.
      assert.equal((await gatehouse.admin('PUT', permission, { scopes: ['tools:read'] })).status, 200);
      assert.equal(await active(gatehouse, asResource, first), true);
      assert.equal((await gatehouse.admin('DELETE', permission)).status, 204);
      assert.deepEqual((await introspect(gatehouse, asResource, first)).body, { active: false });
    });
  });
}

async function waitForMode(gatehouse: RunningGatehouse, mode: RecordCache['mode'], timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (gatehouse.app.get(RecordCache).mode !== mode) {
    if (Date.now() > deadline) assert.fail(`${gatehouse.url}: record cache still ${gatehouse.app.get(RecordCache).mode}, not ${mode}, after ${timeoutMs} ms`);
    await sleep(10);
  }
}

/** Introspects at `at` until it says inactive, for at most NOTIFY_BOUND_MS. */
async function inactiveWithinBound(at: RunningGatehouse, caller: TokenCaller, token: string): Promise<void> {
  const deadline = Date.now() + NOTIFY_BOUND_MS;
  while (await active(at, caller, token)) {
    if (Date.now() > deadline) assert.fail(`${at.url} still says active ${NOTIFY_BOUND_MS} ms after the revocation committed elsewhere`);
    await sleep(10);
  }
}

describe('introspection from memory across two instances on one PostgreSQL', { skip: postgresUnavailable() }, () => {
  let a: RunningGatehouse;
  let b: RunningGatehouse;
  let resource: TestResource;
  let asResource: TokenCaller;

  before(async () => {
    a = await startGatehouse({ database: 'postgres', env: { REFRESH_REUSE_GRACE_SECONDS: '0' } });
    // One service: B accepts what A issues.
    b = await startGatehouse({ storage: a.storage, env: { REFRESH_REUSE_GRACE_SECONDS: '0', ISSUER: a.config.issuer } });
    await Promise.all([waitForMode(a, 'listening'), waitForMode(b, 'listening')]);
    resource = await createResource(a, { resource: 'https://mcp.introspection-cache-shared.test/mcp', scopes: ['tools:read'], default_scopes: ['tools:read'] });
    asResource = { resource, via: 'bearer' };
  });
  after(async () => {
    await b?.close({ keepStorage: true });
    await a?.close();
  });

  for (const ending of ENDINGS) {
    it(`${ending.name} on A: A says inactive at once, B within the documented bound`, async () => {
      const issued = await issue(a, resource);
      await remembered(a, asResource, issued.tokens.accessToken);
      await remembered(b, asResource, issued.tokens.accessToken);
      await ending.end(a, issued, resource);
      assert.deepEqual((await introspect(a, asResource, issued.tokens.accessToken)).body, { active: false });
      await inactiveWithinBound(b, asResource, issued.tokens.accessToken);
    });
  }

  it('with the listeners down, memory is emptied and bypassed: a revocation on A is seen on B at once; it is used again once they listen', async () => {
    const issued = await issue(a, resource);
    await remembered(b, asResource, issued.tokens.accessToken);
    const killed = (await a.db.query('SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()', [
      LISTENER_APPLICATION_NAME,
    ])) as Array<{ killed: boolean }>;
    assert.equal(killed.length, 2, "both instances' listeners");
    await Promise.all([waitForMode(a, 'bypassed', 2000), waitForMode(b, 'bypassed', 2000)]);
    assert.equal(standingsOf(b).size, 0, 'emptied');

    // The listeners reconnect after a second: these steps take a few milliseconds, and the last assertion checks
    // that B bypassed its memory throughout (had it listened again meanwhile, this would prove nothing).
    assert.equal(await active(b, asResource, issued.tokens.accessToken), true, 'read from the database');
    assert.equal(standingsOf(b).has(decodeJwt(issued.tokens.accessToken).jti!), false, 'and not remembered');
    assert.equal((await revoke(a, { resource, via: 'bearer' }, issued.tokens.accessToken)).status, 200);
    assert.deepEqual((await introspect(b, asResource, issued.tokens.accessToken)).body, { active: false }, 'B sees it at once, without any notification');
    assert.equal(b.app.get(RecordCache).mode, 'bypassed', 'B was bypassing throughout');

    await Promise.all([waitForMode(a, 'listening'), waitForMode(b, 'listening')]);
    const another = await issue(a, resource);
    await remembered(b, asResource, another.tokens.accessToken);
    assert.equal((await revoke(a, { resource, via: 'bearer' }, another.tokens.accessToken)).status, 200);
    await inactiveWithinBound(b, asResource, another.tokens.accessToken);
  });
});
