import { Inject, Injectable } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { rootCertificates } from 'node:tls';
import { GATEHOUSE_CONFIG, type CimdConfig, type GatehouseConfig } from '../config/config.js';
import { classifyAddress, describeAddressCategory, isAddressAllowed } from './address-policy.js';
import { HOST_RESOLVER, type HostResolver, type ResolvedAddress } from './host-resolver.js';
import { MetadataDocumentError } from './metadata-document-error.js';

/** The response headers that decide how long a document may be used (RFC 9111). */
export interface CacheHeaders {
  cacheControl: string | null;
  expires: string | null;
  date: string | null;
  age: string | null;
}

export interface FetchedDocument {
  /** The parsed JSON body: not yet validated as client metadata. */
  json: unknown;
  cacheHeaders: CacheHeaders;
}

const USER_AGENT = 'Gatehouse (OAuth client ID metadata document fetcher)';
const JSON_CONTENT_TYPE = /^application\/(?:[\w.-]+\+)?json\s*(?:;.*)?$/i;

/**
 * GETs a client metadata document (or a client's JWK Set, from its `jwks_uri`) from a URL a stranger chose, without
 * becoming an SSRF proxy:
 * - the host must pass the configured allow/deny lists;
 * - Gatehouse resolves the name itself and refuses it if ANY answer is not a public address (loopback only when
 *   CIMD_ALLOW_LOOPBACK is on), then connects to exactly those vetted addresses (the socket's `lookup` returns
 *   them), so a second, different DNS answer (rebinding) is never asked for; TLS still verifies the URL's host
 *   name (SNI and Host stay the URL's);
 * - redirects are not followed; only a 200 with a JSON content type and an identity encoding is read;
 * - the body is capped (5 kB for a document) and the whole exchange, DNS included, has one deadline;
 * - no connection reuse (`agent: false`): a pooled socket could belong to an address vetted for another name.
 */
@Injectable()
export class MetadataFetcher {
  private readonly settings: CimdConfig;
  /** Node's bundled roots plus the operator's extra CAs; undefined (Node's default store) without extras. */
  private readonly ca: string[] | undefined;

  constructor(
    @Inject(GATEHOUSE_CONFIG) config: GatehouseConfig,
    @Inject(HOST_RESOLVER) private readonly resolveHost: HostResolver,
  ) {
    this.settings = config.cimd;
    this.ca = config.cimd.extraCaPem ? [...rootCertificates, config.cimd.extraCaPem] : undefined;
  }

  /** `maxBytes`: the body's cap, when not a client metadata document's (a client's JWK Set may be larger). */
  async fetch(url: URL, { maxBytes = this.settings.maxDocumentBytes }: { maxBytes?: number } = {}): Promise<FetchedDocument> {
    const deadline = Date.now() + this.settings.fetchTimeoutMs;
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    this.assertHostAllowed(url.hostname);
    const addresses = await this.vettedAddresses(host, deadline);
    return this.get(url, host, addresses, deadline, maxBytes);
  }

  private assertHostAllowed(hostname: string): void {
    const { allowedHosts, deniedHosts } = this.settings;
    if (deniedHosts.some((pattern) => matchesHostPattern(hostname, pattern))) {
      throw new MetadataDocumentError('host_not_allowed', `this server does not fetch client metadata documents from ${hostname}`);
    }
    if (allowedHosts.length > 0 && !allowedHosts.some((pattern) => matchesHostPattern(hostname, pattern))) {
      throw new MetadataDocumentError('host_not_allowed', `${hostname} is not among the hosts this server fetches client metadata documents from`);
    }
  }

  private async vettedAddresses(host: string, deadline: number): Promise<ResolvedAddress[]> {
    let addresses: ResolvedAddress[];
    if (isIP(host)) {
      addresses = [{ address: host, family: isIP(host) === 6 ? 6 : 4 }];
    } else {
      try {
        addresses = await beforeDeadline(this.resolveHost(host), deadline, this.timeout());
      } catch (error) {
        if (error instanceof MetadataDocumentError) throw error;
        throw new MetadataDocumentError('dns_failed', `the host ${host} could not be resolved`);
      }
    }
    if (addresses.length === 0) throw new MetadataDocumentError('dns_failed', `the host ${host} has no addresses`);
    for (const { address } of addresses) {
      if (!isAddressAllowed(address, { allowLoopback: this.settings.allowLoopback })) {
        const addressClass = classifyAddress(address);
        // For the operator (audit event and log; the caller is told none of it): the kind of address, and which one.
        throw new MetadataDocumentError(
          'address_not_allowed',
          `the host ${host} resolves to ${describeAddressCategory(addressClass.category)}; client metadata documents are only fetched from public addresses`,
          { address, range: addressClass.range ?? addressClass.category },
        );
      }
    }
    // The family comes from the address itself, not from whatever the resolver claimed.
    return addresses.map(({ address }) => ({ address, family: isIP(address) === 6 ? 6 : 4 }));
  }

  private get(url: URL, host: string, addresses: ResolvedAddress[], deadline: number, maxDocumentBytes: number): Promise<FetchedDocument> {
    return new Promise<FetchedDocument>((resolve, reject) => {
      let settled = false;
      const finish = (error: MetadataDocumentError | null, document?: FetchedDocument): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        request.destroy();
        if (error) reject(error);
        else resolve(document!);
      };
      const request = httpsRequest({
        hostname: host,
        port: url.port ? Number(url.port) : 443,
        path: `${url.pathname}${url.search}`,
        method: 'GET',
        headers: { accept: 'application/json', 'accept-encoding': 'identity', 'user-agent': USER_AGENT },
        agent: false,
        lookup: pinnedLookup(addresses),
        ca: this.ca,
      });
      const timer = setTimeout(() => finish(this.timeout()), Math.max(0, deadline - Date.now()));
      request.on('error', (error: NodeJS.ErrnoException) => finish(connectionError(error, url.host)));
      request.on('response', (response: IncomingMessage) => {
        const status = response.statusCode ?? 0;
        if (status >= 300 && status < 400) {
          return finish(new MetadataDocumentError('redirect', `the document URL answered with a redirect (HTTP ${status}); redirects are not followed`));
        }
        if (status !== 200) return finish(new MetadataDocumentError('http_status', `the document URL answered HTTP ${status}, not 200`));
        const contentType = response.headers['content-type'] ?? '';
        if (!JSON_CONTENT_TYPE.test(contentType)) {
          return finish(new MetadataDocumentError('content_type', 'the document is not served as JSON (Content-Type must be application/json)'));
        }
        const encoding = response.headers['content-encoding'];
        if (encoding !== undefined && encoding.toLowerCase() !== 'identity') {
          return finish(new MetadataDocumentError('content_type', 'the document must be sent without Content-Encoding'));
        }
        const tooLarge = new MetadataDocumentError('too_large', `the document is larger than ${maxDocumentBytes} bytes`);
        if (Number(response.headers['content-length'] ?? 0) > maxDocumentBytes) return finish(tooLarge);
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxDocumentBytes) return finish(tooLarge);
          chunks.push(chunk);
        });
        response.on('error', (error: NodeJS.ErrnoException) => finish(connectionError(error, url.host)));
        response.on('end', () => {
          const json = parseJson(Buffer.concat(chunks));
          if (json instanceof MetadataDocumentError) return finish(json);
          finish(null, {
            json: json.value,
            cacheHeaders: {
              cacheControl: header(response, 'cache-control'),
              expires: header(response, 'expires'),
              date: header(response, 'date'),
              age: header(response, 'age'),
            },
          });
        });
      });
      request.end();
    });
  }

  private timeout(): MetadataDocumentError {
    return new MetadataDocumentError('timeout', `the document was not received within ${this.settings.fetchTimeoutMs} ms`);
  }
}

/**
 * `app.example.com` matches only itself; `*.example.com` matches any name below example.com but not example.com.
 * Host names are compared lower-case and without a trailing dot, so `evil.example.com.` cannot slip past a pattern.
 */
export function matchesHostPattern(hostname: string, pattern: string): boolean {
  const name = hostname.toLowerCase().replace(/\.$/, '');
  if (pattern.startsWith('*.')) {
    const suffix = pattern.slice(1);
    return name.length > suffix.length && name.endsWith(suffix);
  }
  return name === pattern;
}

/**
 * How long a fetched document may be used: `no-store`/`no-cache` → the minimum; otherwise `max-age` (less `Age`),
 * else `Expires` (relative to `Date`), else the minimum; always clamped to the configured bounds.
 */
export function cacheLifetimeSeconds(headers: CacheHeaders, bounds: { min: number; max: number }, now = Date.now()): number {
  const directives = new Map<string, string>();
  for (const part of (headers.cacheControl ?? '').split(',')) {
    const [name = '', value = ''] = part.trim().split('=', 2);
    if (name) directives.set(name.toLowerCase(), value.trim().replace(/^"(.*)"$/, '$1'));
  }
  let lifetime: number | null = null;
  if (directives.has('no-store') || directives.has('no-cache')) {
    lifetime = 0;
  } else if (/^\d+$/.test(directives.get('max-age') ?? '')) {
    const age = /^\d+$/.test(headers.age ?? '') ? Number(headers.age) : 0;
    lifetime = Number(directives.get('max-age')) - age;
  } else if (headers.expires !== null) {
    const expires = Date.parse(headers.expires);
    const date = headers.date === null ? Number.NaN : Date.parse(headers.date);
    // RFC 9111 §5.3: an invalid Expires (such as "0") means already expired.
    lifetime = Number.isNaN(expires) ? 0 : Math.floor((expires - (Number.isNaN(date) ? now : date)) / 1000);
  }
  return Math.min(bounds.max, Math.max(bounds.min, lifetime ?? bounds.min));
}

/** The socket's DNS lookup, answered with the addresses already vetted: Node never asks DNS again. */
function pinnedLookup(addresses: ResolvedAddress[]): LookupFunction {
  return (_hostname, options, callback) => {
    if (options.all) {
      callback(null, addresses.map(({ address, family }) => ({ address, family })));
      return;
    }
    const first = addresses[0]!;
    callback(null, first.address, first.family);
  };
}

function connectionError(error: NodeJS.ErrnoException, host: string): MetadataDocumentError {
  const code = error.code ?? '';
  if (/CERT|TLS|SSL/i.test(code)) {
    return new MetadataDocumentError('tls_failed', `the TLS certificate of ${host} was not accepted (${code})`);
  }
  return new MetadataDocumentError('unreachable', `${host} could not be reached${code ? ` (${code})` : ''}`);
}

function parseJson(body: Buffer): { value: unknown } | MetadataDocumentError {
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(body);
    return { value: JSON.parse(text) as unknown };
  } catch {
    return new MetadataDocumentError('invalid_json', 'the document is not valid JSON');
  }
}

function header(response: IncomingMessage, name: string): string | null {
  const value = response.headers[name];
  return typeof value === 'string' ? value : null;
}

function beforeDeadline<T>(promise: Promise<T>, deadline: number, onTimeout: MetadataDocumentError): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout), Math.max(0, deadline - Date.now()));
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
