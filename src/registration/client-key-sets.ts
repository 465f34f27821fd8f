import { Injectable } from '@nestjs/common';
import { cacheLifetimeSeconds, MetadataFetcher } from './metadata-fetcher.js';
import { MetadataDocumentError } from './metadata-document-error.js';
import { InvalidClientKey, parseClientJwks, type ClientJwks } from './client-keys.js';
import type { ClientMetadata } from './client-metadata.js';

/** Bounds on how long a fetched JWK Set is used, whatever its cache headers say: a removed key stops working within the hour. */
const CACHE_MIN_SECONDS = 60;
const CACHE_MAX_SECONDS = 3600;
/** Sets kept at once; the oldest fetched goes first. */
const MAX_CACHED_SETS = 1000;
/** A forced refetch (an assertion signed by a key the cached set lacks) happens at most this often per URL. */
const FORCED_REFETCH_INTERVAL_MS = 60_000;
/** A JWK Set may hold several RSA keys: larger than the 5 kB a client metadata document may have. */
const MAX_JWKS_BYTES = 32 * 1024;

/** The client's keys could not be had: the jwks_uri was refused or failed, or what it served is not a usable set. */
export class ClientKeysUnavailable extends Error {
  constructor(
    readonly reason: string,
    readonly description: string,
    readonly detail: Record<string, string> = {},
  ) {
    super(`${reason}: ${description}`);
    this.name = 'ClientKeysUnavailable';
  }
}

interface CachedSet {
  jwks: ClientJwks;
  expiresAt: number;
  /** When a refetch was last forced; 0 if never. */
  forcedAt: number;
}

/** A client's keys as the verifier sees them; `uri` is set when they come from a jwks_uri (and may be refetched). */
export interface ClientKeys {
  jwks: ClientJwks;
  uri: string | null;
}

/**
 * The public keys of `private_key_jwt` clients. Inline `jwks` are the client's metadata. A `jwks_uri` is fetched
 * through the same SSRF-hardened MetadataFetcher as client metadata documents (host lists, public addresses only,
 * pinned DNS, no redirects, capped body, one deadline) and kept in memory for its cache lifetime bounded to
 * 60 s – 1 h; concurrent requests for one URL share one fetch. An assertion signed with a key the cached set lacks
 * forces one refetch (key rotation), at most once a minute per URL, so that made-up `kid`s cannot turn Gatehouse
 * into a request amplifier against the client's host.
 */
@Injectable()
export class ClientKeySets {
  private readonly cache = new Map<string, CachedSet>();
  private readonly inFlight = new Map<string, Promise<CachedSet>>();

  constructor(private readonly fetcher: MetadataFetcher) {}

  async keysOf(metadata: ClientMetadata): Promise<ClientKeys> {
    if (metadata.jwks) return { jwks: metadata.jwks, uri: null };
    if (!metadata.jwks_uri) throw new ClientKeysUnavailable('no_keys', 'the client registered neither jwks nor jwks_uri');
    const cached = this.cache.get(metadata.jwks_uri);
    const set = cached && cached.expiresAt > this.now() ? cached : await this.fetchShared(metadata.jwks_uri, cached?.forcedAt ?? 0);
    return { jwks: set.jwks, uri: metadata.jwks_uri };
  }

  /** The set at `uri` fetched again, or null when a refetch was forced too recently (the cached set stands). */
  async refetched(uri: string): Promise<ClientJwks | null> {
    const cached = this.cache.get(uri);
    const now = this.now();
    if (cached && now - cached.forcedAt < FORCED_REFETCH_INTERVAL_MS) return null;
    if (cached) cached.forcedAt = now;
    return (await this.fetchShared(uri, now)).jwks;
  }

  /** Overridden by tests that move time. */
  protected now(): number {
    return Date.now();
  }

  private fetchShared(uri: string, forcedAt: number): Promise<CachedSet> {
    const running = this.inFlight.get(uri);
    if (running) return running;
    const fetching = this.fetch(uri, forcedAt).finally(() => this.inFlight.delete(uri));
    this.inFlight.set(uri, fetching);
    return fetching;
  }

  private async fetch(uri: string, forcedAt: number): Promise<CachedSet> {
    let response;
    try {
      response = await this.fetcher.fetch(new URL(uri), { maxBytes: MAX_JWKS_BYTES });
    } catch (error) {
      if (error instanceof MetadataDocumentError) {
        throw new ClientKeysUnavailable(`jwks_uri_${error.reason}`, error.description.replace(/the document/g, 'the JWK Set'), { jwks_uri: uri, ...error.auditDetail });
      }
      throw error;
    }
    let jwks: ClientJwks;
    try {
      jwks = parseClientJwks(response.json, { lenient: true });
    } catch (error) {
      if (error instanceof InvalidClientKey) throw new ClientKeysUnavailable('jwks_invalid', `the JWK Set at the jwks_uri is not usable: ${error.message}`, { jwks_uri: uri });
      throw error;
    }
    const seconds = cacheLifetimeSeconds(response.cacheHeaders, { min: CACHE_MIN_SECONDS, max: CACHE_MAX_SECONDS });
    const set: CachedSet = { jwks, expiresAt: this.now() + seconds * 1000, forcedAt };
    this.cache.delete(uri);
    if (this.cache.size >= MAX_CACHED_SETS) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(uri, set);
    return set;
  }
}
