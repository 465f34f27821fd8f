import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { loadConfig, type GatehouseConfig } from '../config/config.js';
import { sha256 } from '../common/crypto.js';
import { AccessDenied, InvalidToken, OAuthError } from '../common/oauth-errors.js';
import type { Database } from '../database/database.module.js';
import type { Tx } from '../database/data-source.js';
import { RecordCache } from '../database/record-cache.js';
import type { AuditEvent, AuditLog } from '../audit/audit-log.js';
import type { ClientRepository, ExpiredClient } from './client.repository.js';
import type { ClientMetadataDocuments, ResolvedClient } from './client-metadata-document.js';
import { ClientEntity } from './client.entity.js';
import { metadataFingerprint } from './client-fingerprint.js';
import { validateClientMetadata } from './client-metadata.js';
import type { InitialAccessTokenRepository } from './initial-access-token.repository.js';
import { InitialAccessTokens } from './initial-access-tokens.service.js';
import { CLIENT_USE_RESOLUTION_MS, ClientsService, MetadataDocumentLimitReached, registrationLimitReached } from './clients.service.js';

const TX = { marker: 'tx' } as unknown as Tx;
const METADATA = { client_name: 'Editor', redirect_uris: ['http://127.0.0.1:7777/cb'], token_endpoint_auth_method: 'none' };

/** A client row as the repository returns it. */
const row = (id: string, kind: ClientEntity['kind'], lastUsedAt: Date | null = null): ClientEntity =>
  Object.assign(new ClientEntity(), { id, kind, metadata: validateClientMetadata(METADATA), secretHash: null, registrationTokenHash: null, createdAt: new Date(0), updatedAt: new Date(0), lastUsedAt, metadataExpiresAt: null, metadataFingerprint: null, initialAccessTokenId: null });

/** A ClientsService over recording fakes: every repository call is logged in order, as `name` or `name:detail`. */
function setup(
  options: {
    registration?: Partial<GatehouseConfig['registration']>;
    cimd?: Partial<GatehouseConfig['cimd']>;
    dynamicCount?: number;
    documentCount?: number;
    superseded?: ExpiredClient[];
    usableToken?: string | null;
    consumable?: boolean;
    rows?: ClientEntity[];
    recordedUse?: Date | null;
  } = {},
) {
  const base = loadConfig({});
  const config: GatehouseConfig = { ...base, registration: { ...base.registration, ...options.registration }, cimd: { ...base.cimd, ...options.cimd } };
  const calls: string[] = [];
  const events: AuditEvent[] = [];
  let transactions = 0;
  const inserted: Array<Record<string, unknown>> = [];
  const afterCommit: Array<() => void> = [];
  const database = {
    transaction: async <T>(work: (tx: Tx) => Promise<T>): Promise<T> => {
      transactions++;
      const result = await work(TX);
      for (const hook of afterCommit.splice(0)) hook();
      return result;
    },
    afterCommit: (_tx: Tx, hook: () => void) => (afterCommit.push(hook), true),
  } as unknown as Database;
  const rows = new Map<string, ClientEntity>(options.rows?.map((row) => [row.id, row]));
  const audit = { record: async (_tx: Tx, event: AuditEvent) => void events.push(event) } as unknown as AuditLog;
  const repository = {
    lockAdmissions: async (_tx: Tx, kind: string) => void calls.push(kind === 'dynamic' ? 'lock' : `lock:${kind}`),
    deleteSuperseded: async (_tx: Tx, match: { fingerprint: string; initialAccessTokenId: string | null; registeredBeforeSeconds: number }) => {
      calls.push(`supersede:${match.initialAccessTokenId ?? 'none'}:${match.registeredBeforeSeconds}`);
      return options.superseded ?? [];
    },
    countKind: async (_tx: Tx, kind: string, atMost: number) => {
      calls.push(kind === 'dynamic' ? `count:${atMost}` : `count:${kind}:${atMost}`);
      return (kind === 'dynamic' ? options.dynamicCount : options.documentCount) ?? 0;
    },
    insert: async (_tx: Tx, client: Record<string, unknown>) => {
      calls.push('insert');
      inserted.push(client);
      return Object.assign(new ClientEntity(), client, { createdAt: new Date(), updatedAt: new Date(), lastUsedAt: null, metadataExpiresAt: null });
    },
    recordUse: async (_tx: Tx, id: string, seconds: number) => (calls.push(`use:${id}:${seconds}`), options.recordedUse ?? null),
    findById: async (id: string) => (calls.push(`find:${id}`), rows.get(id) ?? null),
    delete: async (_tx: Tx, id: string) => (calls.push(`delete:${id}`), rows.delete(id)),
  } as unknown as ClientRepository;
  const tokenRepository = {
    findUsable: async (hash: string) => {
      calls.push('iat-lookup');
      return options.usableToken !== undefined && options.usableToken !== null && hash === sha256(options.usableToken) ? 'iat-1' : null;
    },
    consume: async () => {
      calls.push('iat-consume');
      return options.consumable === false ? null : 'iat-1';
    },
  } as unknown as InitialAccessTokenRepository;
  const tokens = new InitialAccessTokens(config, database, tokenRepository, audit);
  // A real cache, as on PGlite (local eviction).
  const cache = new RecordCache(config, database);
  const documents = { record: async (_tx: Tx, resolved: ResolvedClient, mode: string) => void calls.push(`record:${mode}:${resolved.client.id}`) } as unknown as ClientMetadataDocuments;
  const service = new ClientsService(config, database, repository, audit, documents, tokens, cache);
  const commit = () => {
    for (const hook of afterCommit.splice(0)) hook();
  };
  return { service, calls, events, inserted, cache, commit, transactions: () => transactions };
}

async function assertOAuth(promise: Promise<unknown>, type: new (...args: never[]) => OAuthError, status: number, pattern?: RegExp): Promise<OAuthError> {
  let caught: unknown;
  await promise.catch((error: unknown) => (caught = error));
  assert.ok(caught instanceof type, `expected ${type.name}, got ${String(caught)}`);
  assert.equal(caught.status, status);
  if (pattern) assert.match(caught.description, pattern);
  return caught;
}

describe('ClientsService.register (dynamic), with fake repositories', () => {
  it('locks, replaces identical unused registrations, checks the cap, then inserts with the fingerprint', async () => {
    const superseded: ExpiredClient[] = [{ id: 'old-1', kind: 'dynamic', reason: 'superseded', createdAt: new Date('2026-01-01T00:00:00Z'), lastUsedAt: null }];
    const { service, calls, events, inserted } = setup({ superseded, dynamicCount: 9_999 });
    const { client } = await service.register(METADATA, 'dynamic', { requestId: 'req-1', ip: null, userAgent: null });
    assert.deepEqual(calls, ['lock', 'supersede:none:600', 'count:10000', 'insert']);
    assert.equal(inserted[0]?.metadataFingerprint, metadataFingerprint(validateClientMetadata(METADATA)));
    assert.equal(inserted[0]?.initialAccessTokenId, null);
    assert.deepEqual(
      events.map((event) => [event.type, event.clientId, event.data?.reason ?? null, event.data?.superseded_by ?? null]),
      [
        ['client.expired', 'old-1', 'superseded', client.id],
        ['client.registered', client.id, null, null],
      ],
    );
  });

  it('refuses at the cap with 403 access_denied saying the limit and the lifetimes, and inserts nothing', async () => {
    const { service, calls, events } = setup({ registration: { maxDynamicClients: 3 }, dynamicCount: 3 });
    await assertOAuth(
      service.register(METADATA, 'dynamic'),
      AccessDenied,
      403,
      /^dynamic client registration limit reached \(3 clients\); unused clients expire after 24 hours, idle ones 90 days after their last use$/,
    );
    assert.deepEqual(calls, ['lock', 'supersede:none:600', 'count:3']);
    assert.deepEqual(events, [], 'no event is recorded for a refused registration');
  });

  it('with DCR_REQUIRE_INITIAL_ACCESS_TOKEN, refuses a request without a bearer token before looking at anything', async () => {
    const { service, calls, transactions } = setup({ registration: { requireInitialAccessToken: true } });
    const error = await assertOAuth(service.register({ redirect_uris: 'not even valid' }, 'dynamic', undefined, undefined), InvalidToken, 401);
    assert.equal(error.wwwAuthenticate, 'Bearer');
    await assertOAuth(service.register(METADATA, 'dynamic', undefined, 'Basic dXNlcjpwYXNz'), InvalidToken, 401);
    assert.deepEqual(calls, []);
    assert.equal(transactions(), 0);
  });

  it('refuses an unusable initial access token with invalid_token, whether or not one is required', async () => {
    for (const requireInitialAccessToken of [true, false]) {
      const { service, calls } = setup({ registration: { requireInitialAccessToken }, usableToken: 'gh_iat_good' });
      const error = await assertOAuth(service.register(METADATA, 'dynamic', undefined, 'Bearer gh_iat_wrong'), InvalidToken, 401, /unknown, revoked, expired or used up/);
      assert.equal(error.wwwAuthenticate, 'Bearer error="invalid_token"');
      assert.deepEqual(calls, ['iat-lookup']);
    }
  });

  it('spends one use of a valid token inside the transaction, after the cap check, and records it on the client', async () => {
    const { service, calls, inserted, events } = setup({ registration: { requireInitialAccessToken: true }, usableToken: 'gh_iat_good' });
    await service.register(METADATA, 'dynamic', undefined, 'Bearer gh_iat_good');
    assert.deepEqual(calls, ['iat-lookup', 'lock', 'supersede:iat-1:600', 'count:10000', 'iat-consume', 'insert']);
    assert.equal(inserted[0]?.initialAccessTokenId, 'iat-1');
    assert.equal(events.at(-1)?.data?.initial_access_token_id, 'iat-1');
  });

  it('refuses when the token was used up between the check and the transaction, before inserting', async () => {
    const { service, calls } = setup({ usableToken: 'gh_iat_good', consumable: false });
    await assertOAuth(service.register(METADATA, 'dynamic', undefined, 'Bearer gh_iat_good'), InvalidToken, 401);
    assert.ok(!calls.includes('insert'), calls.join(', '));
  });

  it('without a token and none required, registers openly', async () => {
    const { service, calls } = setup();
    await service.register(METADATA, 'dynamic');
    assert.ok(!calls.includes('iat-lookup') && calls.includes('insert'));
  });
});

describe('ClientsService.register (static)', () => {
  it('takes no lock, counts nothing, never reads the admin bearer as an initial access token, and stores no fingerprint', async () => {
    const { service, calls, inserted } = setup({ registration: { requireInitialAccessToken: true, maxDynamicClients: 1 }, dynamicCount: 5 });
    await service.register(METADATA, 'static', undefined, 'Bearer the-admin-token');
    assert.deepEqual(calls, ['insert']);
    assert.equal(inserted[0]?.metadataFingerprint, null);
  });
});

describe('ClientsService.recordUse', () => {
  it('writes nothing when the row read shows a use within the resolution, and a conditional update otherwise', async () => {
    const { service, calls } = setup();
    await service.recordUse(TX, { id: 'fresh', lastUsedAt: new Date(Date.now() - CLIENT_USE_RESOLUTION_MS + 60_000) });
    assert.deepEqual(calls, []);
    await service.recordUse(TX, { id: 'stale', lastUsedAt: new Date(Date.now() - CLIENT_USE_RESOLUTION_MS - 1000) });
    await service.recordUse(TX, { id: 'never', lastUsedAt: null });
    assert.deepEqual(calls, ['use:stale:3600', 'use:never:3600']);
  });
});

describe('ClientsService and the RecordCache', () => {
  it('resolves registered clients through the cache, and never caches an unknown id', async () => {
    const { service, calls, cache } = setup({ rows: [row('dyn', 'dynamic'), row('static', 'static')] });
    for (let i = 0; i < 3; i++) {
      assert.equal((await service.resolve('dyn'))?.client.id, 'dyn');
      assert.equal((await service.resolve('static'))?.client.id, 'static');
      assert.equal(await service.resolve('unknown'), null);
    }
    assert.deepEqual(calls, ['find:dyn', 'find:static', 'find:unknown', 'find:unknown', 'find:unknown']);
    assert.equal(cache.has('client', 'unknown'), false);
  });

  it('never caches a metadata-document row, even under an id that is not a URL', async () => {
    const { service, calls } = setup({ rows: [row('odd', 'metadata_document')] });
    assert.equal(await service.resolve('odd'), null);
    assert.equal(await service.resolve('odd'), null);
    assert.deepEqual(calls, ['find:odd', 'find:odd']);
  });

  it('a deleted client is forgotten once the deletion commits', async () => {
    const { service, calls } = setup({ rows: [row('dyn', 'dynamic')] });
    await service.resolve('dyn');
    await service.delete('dyn', 'admin.client_deleted');
    assert.equal(await service.resolve('dyn'), null);
    assert.deepEqual(calls, ['find:dyn', 'delete:dyn', 'find:dyn']);
  });

  it('identical registrations that a new one replaces are forgotten', async () => {
    const superseded: ExpiredClient[] = [{ id: 'old', kind: 'dynamic', reason: 'superseded', createdAt: new Date(0), lastUsedAt: null }];
    const { service, cache } = setup({ rows: [row('old', 'dynamic')], superseded });
    await service.resolve('old');
    assert.equal(cache.has('client', 'old'), true);
    await service.register(METADATA, 'dynamic');
    assert.equal(cache.has('client', 'old'), false);
  });

  it('recordUse gives the cached client the use it wrote, after the commit: the next requests write nothing', async () => {
    const recorded = new Date();
    const stale = new Date(Date.now() - CLIENT_USE_RESOLUTION_MS - 1000);
    const { service, calls, commit } = setup({ rows: [row('dyn', 'dynamic', stale)], recordedUse: recorded });
    const client = (await service.resolve('dyn'))!.client;
    await service.recordUse(TX, client);
    assert.equal((await service.resolve('dyn'))!.client.lastUsedAt, stale, 'not before the commit');
    commit();
    const cached = (await service.resolve('dyn'))!.client;
    assert.equal(cached.lastUsedAt, recorded);
    assert.ok(cached instanceof ClientEntity && Object.isFrozen(cached));
    await service.recordUse(TX, cached);
    assert.deepEqual(calls, ['find:dyn', `use:dyn:${CLIENT_USE_RESOLUTION_MS / 1000}`], 'one write, no re-read');
  });

  it('recordUse evicts the cached client when another instance had recorded a more recent use', async () => {
    const stale = new Date(Date.now() - CLIENT_USE_RESOLUTION_MS - 1000);
    const { service, calls, commit } = setup({ rows: [row('dyn', 'dynamic', stale)], recordedUse: null });
    await service.recordUse(TX, (await service.resolve('dyn'))!.client);
    commit();
    await service.resolve('dyn');
    assert.deepEqual(calls, ['find:dyn', `use:dyn:${CLIENT_USE_RESOLUTION_MS / 1000}`, 'find:dyn'], 'read again to learn the recorded use');
  });
});

describe('ClientsService.recordFetched (metadata documents), with fake repositories', () => {
  const URL_ID = 'https://app.example.com/client.json';
  /** What ClientsService.resolve returns for a document fetched just now. */
  function fetched(firstRecording: boolean): ResolvedClient {
    const client = row(URL_ID, 'metadata_document');
    return { client, fetched: { metadata: client.metadata, expiresAt: new Date(Date.now() + 300_000), cacheSeconds: 300, firstRecording } };
  }

  it('admits a first recording under the lock when below CIMD_MAX_CLIENTS, then records it', async () => {
    const { service, calls } = setup({ cimd: { maxClients: 5 }, documentCount: 4 });
    await service.recordFetched(TX, fetched(true), 'insert');
    assert.deepEqual(calls, ['lock:metadata_document', 'count:metadata_document:5', `record:insert:${URL_ID}`]);
  });

  it('refuses a first recording at the cap with MetadataDocumentLimitReached (403 access_denied), recording nothing', async () => {
    const { service, calls } = setup({ cimd: { maxClients: 5 }, documentCount: 5 });
    const error = await assertOAuth(
      service.recordFetched(TX, fetched(true), 'insert'),
      MetadataDocumentLimitReached,
      403,
      /^client metadata document limit reached \(5 clients\); clients never issued tokens expire 24 hours after their last use, others 90 days after their last use$/,
    );
    assert.ok(error instanceof AccessDenied && error.code === 'access_denied');
    assert.deepEqual(calls, ['lock:metadata_document', 'count:metadata_document:5', `find:${URL_ID}`]);
  });

  it('at the cap, lets a URL through that another request recorded meanwhile (its insert is a refresh)', async () => {
    const { service, calls } = setup({ cimd: { maxClients: 5 }, documentCount: 5, rows: [row(URL_ID, 'metadata_document')] });
    await service.recordFetched(TX, fetched(true), 'insert');
    assert.deepEqual(calls, ['lock:metadata_document', 'count:metadata_document:5', `find:${URL_ID}`, `record:insert:${URL_ID}`]);
  });

  it('never counts a client already recorded, a refresh at /token, or a request that fetched nothing', async () => {
    const { service, calls } = setup({ cimd: { maxClients: 5 }, documentCount: 50 });
    await service.recordFetched(TX, fetched(false), 'insert');
    await service.recordFetched(TX, fetched(true), 'update');
    await service.recordFetchedAlone(fetched(false), 'update');
    await service.recordFetchedAlone({ client: fetched(false).client, fetched: null }, 'update');
    assert.deepEqual(calls, [`record:insert:${URL_ID}`, `record:update:${URL_ID}`, `record:update:${URL_ID}`]);
  });

  it('says when room is made, and leaves idle expiry out when CIMD_IDLE_CLIENT_DAYS is 0', () => {
    const error = new MetadataDocumentLimitReached({ maxClients: 1, unusedClientTtlMs: 3_600_000, idleClientTtlMs: 0 });
    assert.equal(error.description, 'client metadata document limit reached (1 clients); clients never issued tokens expire 1 hour after their last use');
    assert.equal(error.maxClients, 1);
    assert.equal(error.roomMade, 'clients never issued tokens expire 1 hour after their last use');
  });
});

describe('registrationLimitReached', () => {
  it('names the cap and the lifetimes, and leaves idle expiry out when it is off', () => {
    const error = registrationLimitReached({ dynamicRegistration: true, maxDynamicClients: 1, unusedClientTtlMs: 3_600_000, idleClientTtlMs: 0, clientSecretTtlMs: 0, requireInitialAccessToken: false });
    assert.equal(error.code, 'access_denied');
    assert.equal(error.status, 403);
    assert.equal(error.description, 'dynamic client registration limit reached (1 clients); unused clients expire after 1 hour');
    const withIdle = registrationLimitReached({ dynamicRegistration: true, maxDynamicClients: 50, unusedClientTtlMs: 48 * 3_600_000, idleClientTtlMs: 86_400_000, clientSecretTtlMs: 0, requireInitialAccessToken: false });
    assert.equal(withIdle.description, 'dynamic client registration limit reached (50 clients); unused clients expire after 48 hours, idle ones 1 day after their last use');
  });
});
