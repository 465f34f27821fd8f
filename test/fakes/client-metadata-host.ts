import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemHostResolver, type HostResolver, type ResolvedAddress } from '../../src/registration/host-resolver.js';

/** How the fake host answers one path. */
export interface FakeResponse {
  /** Default 200. */
  status?: number;
  /** Default `content-type: application/json`. */
  headers?: Record<string, string>;
  /** An object is sent as JSON; a string or Buffer as it is. */
  body?: unknown;
  /** Wait this long before answering (a slow server). */
  delayMs?: number;
  /** Send the body in pieces without Content-Length, so only counting the bytes can catch an oversized body. */
  chunked?: boolean;
}

/** What the host saw of one request. */
export interface SeenRequest {
  path: string;
  method: string;
  host: string | undefined;
  /** The TLS SNI name the client sent (false when it sent none). */
  servername: string | false;
  accept: string | undefined;
}

/** Names the test certificate is valid for: `localhost`, 127.0.0.1, and any name under gatehouse.test (for FakeDns). */
export const TEST_DOMAIN = 'gatehouse.test';

/**
 * A client's web host, serving client metadata documents over https on loopback. The certificate is self-signed
 * and made at start with the openssl command line; Gatehouse trusts it through CIMD_EXTRA_CA_FILE (`certFile`).
 * Each path answers what the test set (a document, a redirect, an oversized or slow body); every request is
 * counted, so tests can prove what was fetched and how often.
 */
export class FakeClientMetadataHost {
  readonly requests: SeenRequest[] = [];
  private readonly routes = new Map<string, FakeResponse>();
  private server: Server | null = null;
  private dir = '';
  port = 0;

  get certFile(): string {
    return join(this.dir, 'cert.pem');
  }

  /** The environment a Gatehouse needs to fetch from this host: loopback allowed, this certificate trusted. */
  get env(): Record<string, string> {
    return { CIMD_ALLOW_LOOPBACK: 'true', CIMD_EXTRA_CA_FILE: this.certFile };
  }

  async start(): Promise<this> {
    this.dir = await mkdtemp(join(tmpdir(), 'gatehouse-cimd-host-'));
    const keyFile = join(this.dir, 'key.pem');
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=localhost',
      '-addext', `subjectAltName=DNS:localhost,IP:127.0.0.1,DNS:*.${TEST_DOMAIN}`,
      '-keyout', keyFile, '-out', this.certFile,
    ], { stdio: 'pipe' });
    const [key, cert] = await Promise.all([readFile(keyFile), readFile(this.certFile)]);
    this.server = createServer({ key, cert }, (req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }

  /** `https://localhost:<port><path>`, or the same under another name (one FakeDns maps to an address). */
  url(path: string, host = 'localhost'): string {
    return `https://${host}:${this.port}${path}`;
  }

  serve(path: string, response: FakeResponse): void {
    this.routes.set(path, response);
  }

  /** Serves `document` as JSON at `path`, with extra response options. */
  serveDocument(path: string, document: Record<string, unknown>, options: Omit<FakeResponse, 'body'> = {}): void {
    this.serve(path, { ...options, body: document });
  }

  redirect(path: string, location: string, status = 302): void {
    this.serve(path, { status, headers: { location }, body: '' });
  }

  /** How many requests reached `path` (any host name). */
  count(path: string): number {
    return this.requests.filter((request) => request.path === path).length;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    this.requests.push({
      path,
      method: req.method ?? '',
      host: req.headers.host,
      servername: (req.socket as TLSSocket).servername ?? false,
      accept: req.headers.accept,
    });
    const route = this.routes.get(path);
    if (!route) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
      return;
    }
    if (route.delayMs) await new Promise((resolve) => setTimeout(resolve, route.delayMs));
    if (res.destroyed) return;
    const body = Buffer.isBuffer(route.body) ? route.body : Buffer.from(typeof route.body === 'string' ? route.body : JSON.stringify(route.body ?? {}));
    const headers: Record<string, string> = { 'content-type': 'application/json', ...route.headers };
    if (!route.chunked) headers['content-length'] = String(body.length);
    res.writeHead(route.status ?? 200, headers);
    if (route.chunked) {
      for (let offset = 0; offset < body.length && !res.destroyed; offset += 1024) res.write(body.subarray(offset, offset + 1024));
      res.end();
    } else {
      res.end(body);
    }
  }
}

/**
 * Fake DNS for the metadata fetcher: names mapped to the addresses a test wants them to resolve to ("evil" names
 * resolving to 10.0.0.1, 169.254.169.254, ::1 …), with every lookup recorded. Unknown names go to `fallback` if
 * one is given (e.g. the system resolver, for `localhost`), and otherwise fail as unknown.
 */
export class FakeDns {
  readonly lookups: string[] = [];
  private readonly answers = new Map<string, string[]>();
  /** Names whose lookup never answers (a DNS server that hangs). */
  private readonly hanging = new Set<string>();

  constructor(private readonly fallback: HostResolver | null = null) {}

  map(name: string, ...addresses: string[]): this {
    this.answers.set(name, addresses);
    return this;
  }

  hang(name: string): this {
    this.hanging.add(name);
    return this;
  }

  lookupsOf(name: string): number {
    return this.lookups.filter((lookup) => lookup === name).length;
  }

  readonly resolver: HostResolver = async (hostname) => {
    this.lookups.push(hostname);
    if (this.hanging.has(hostname)) return new Promise<ResolvedAddress[]>(() => {});
    const addresses = this.answers.get(hostname);
    if (addresses) return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    if (this.fallback) return this.fallback(hostname);
    throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
  };
}

/** FakeDns that answers real DNS for names it was not told about (so `localhost` works). */
export function fakeDnsWithSystemFallback(): FakeDns {
  return new FakeDns(systemHostResolver);
}

/** A valid client metadata document for `url`: a public client with one loopback redirect URI by default. */
export function clientDocument(url: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    client_id: url,
    client_name: 'Metadata Document Client',
    client_uri: 'https://app.example.com',
    redirect_uris: ['http://127.0.0.1:33419/callback'],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
    ...overrides,
  };
}
