import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { generateKeyPairSync } from 'node:crypto';
import { ClientKeySets, ClientKeysUnavailable } from './client-key-sets.js';
import type { ClientMetadata } from './client-metadata.js';
import type { FetchedDocument, MetadataFetcher } from './metadata-fetcher.js';
import { MetadataDocumentError } from './metadata-document-error.js';

const URI = 'https://app.example.com/jwks.json';

function jwk(kid: string): Record<string, unknown> {
  return { ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }), kid };
}

/** A fetcher that answers from `served` and counts fetches; a ClientKeySets whose clock the test moves. */
function setup(served: { json: unknown; cacheControl?: string } | Error) {
  const fetched: Array<{ url: string; maxBytes: number | undefined }> = [];
  const fetcher = {
    fetch: async (url: URL, options?: { maxBytes?: number }): Promise<FetchedDocument> => {
      fetched.push({ url: url.href, maxBytes: options?.maxBytes });
      const answer = served;
      if (answer instanceof Error) throw answer;
      return { json: answer.json, cacheHeaders: { cacheControl: answer.cacheControl ?? null, expires: null, date: null, age: null } };
    },
  } as unknown as MetadataFetcher;
  let clock = 1_000_000;
  class TestKeySets extends ClientKeySets {
    protected override now(): number {
      return clock;
    }
  }
  return { sets: new TestKeySets(fetcher), fetched, advance: (ms: number) => (clock += ms), serve: (next: typeof served) => (served = next) };
}

const byUri = { jwks_uri: URI } as ClientMetadata;

describe('ClientKeySets', () => {
  it('uses inline keys without fetching anything', async () => {
    const { sets, fetched } = setup(new Error('not called'));
    const jwks = { keys: [jwk('a')] } as unknown as ClientMetadata['jwks'];
    assert.deepEqual(await sets.keysOf({ jwks } as ClientMetadata), { jwks, uri: null });
    assert.equal(fetched.length, 0);
  });

  it('fetches a jwks_uri once, with a larger cap than a document, and keeps it for its bounded lifetime', async () => {
    const { sets, fetched, advance } = setup({ json: { keys: [jwk('a')] }, cacheControl: 'max-age=86400' });
    await Promise.all([sets.keysOf(byUri), sets.keysOf(byUri)]);
    assert.equal(fetched.length, 1, 'concurrent requests share one fetch');
    assert.equal(fetched[0]?.maxBytes, 32 * 1024);
    advance(3599_000);
    await sets.keysOf(byUri);
    assert.equal(fetched.length, 1);
    advance(2000);
    await sets.keysOf(byUri);
    assert.equal(fetched.length, 2, 'max-age=86400 is held to an hour');
  });

  it('refetches on demand at most once a minute', async () => {
    const { sets, fetched, advance, serve } = setup({ json: { keys: [jwk('a')] } });
    await sets.keysOf(byUri);
    serve({ json: { keys: [jwk('b')] } });
    assert.equal((await sets.refetched(URI))?.keys[0]?.kid, 'b');
    assert.equal(await sets.refetched(URI), null, 'a second forced refetch right after is refused');
    advance(59_000);
    assert.equal(await sets.refetched(URI), null);
    advance(2000);
    assert.ok(await sets.refetched(URI));
    assert.equal(fetched.length, 3);
  });

  it('reports a refused fetch or an unusable set as ClientKeysUnavailable, with the fetcher\'s detail', async () => {
    const refused = setup(new MetadataDocumentError('address_not_allowed', 'the host resolves to a private address', { address: '10.0.0.1' }));
    await assert.rejects(refused.sets.keysOf(byUri), (error: unknown) => {
      assert.ok(error instanceof ClientKeysUnavailable);
      assert.equal(error.reason, 'jwks_uri_address_not_allowed');
      assert.deepEqual(error.detail, { jwks_uri: URI, address: '10.0.0.1' });
      return true;
    });
    const withPrivate = setup({ json: { keys: [generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' })] } });
    await assert.rejects(withPrivate.sets.keysOf(byUri), (error: unknown) => error instanceof ClientKeysUnavailable && error.reason === 'jwks_invalid');
    const failures = setup({ json: 'not a set' });
    await assert.rejects(failures.sets.keysOf(byUri), ClientKeysUnavailable);
    await assert.rejects(failures.sets.keysOf(byUri), ClientKeysUnavailable);
    assert.equal(failures.fetched.length, 2, 'failures are not cached');
  });
});
