import { Inject, Injectable } from '@nestjs/common';
import { normalizeIp } from '@nestjs/throttler';
import type { HttpRequest } from '../common/http.js';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../config/config.js';
import { safeEqual } from '../common/crypto.js';
import type { ParsedBody } from '../common/body-parser.js';
import type { RateLimitProof } from './rate-limit-policies.js';
import { RATE_LIMIT_CALLERS, type ProvenCaller, type RateLimitCallers, type Tracker } from './rate-limit-options.js';

/** The address a request comes from, as a tracker: every request is counted against it first. */
export function addressTracker(req: HttpRequest): Tracker {
  const ip = clientAddress(req);
  return { key: `ip:${ip}`, kind: 'ip', ip };
}

/**
 * Finds the identity a request proves beyond its address, for a budget of its own inside the address's. Only a
 * secret proves anything: a confidential client's, a resource server's registration secret, or the admin token. A
 * public client's client_id is a claim anyone can make (and anyone can mint new ones, by registering or with a
 * metadata document URL), so it is never looked up here and has no budget of its own. Credentials are checked the
 * same way (and only once: see memoForRequest) as the route will check them; a failed proof is no identity.
 */
@Injectable()
export class RequestTracker {
  constructor(
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    @Inject(RATE_LIMIT_CALLERS) private readonly callers: RateLimitCallers,
  ) {}

  /** What the request proves for `proof`, or null when it proves nothing beyond its address. */
  async proven(req: HttpRequest, proof: RateLimitProof): Promise<Tracker | null> {
    const { ip } = addressTracker(req);
    try {
      switch (proof) {
        case 'ip':
          return null;
        case 'admin':
          return this.isAdmin(req) ? { key: 'admin', kind: 'admin', ip } : null;
        case 'resource': {
          const resource = await this.callers.resourceServer(req);
          return resource ? trackerOf(resource, ip) : null;
        }
        case 'caller':
          return presentsSecret(req) ? trackerOf(await this.callers.clientOrResourceServer(req, bodyOf(req)), ip) : null;
        case 'client':
          return presentsSecret(req) ? trackerOf(await this.callers.client(req, bodyOf(req)), ip) : null;
      }
    } catch {
      // Failed authentication: the route reports it; the request counted against its address only.
      return null;
    }
  }

  private isAdmin(req: HttpRequest): boolean {
    const expected = this.config.adminToken;
    const presented = /^Bearer ([^\s]+)$/i.exec(req.headers.authorization ?? '')?.[1];
    return expected !== undefined && presented !== undefined && safeEqual(presented, expected);
  }
}

/** Whether the request carries a secret: credentials in `Authorization`, or a client_secret in the body. */
function presentsSecret(req: HttpRequest): boolean {
  return req.headers.authorization !== undefined || bodyOf(req).client_secret !== undefined;
}

/** A resource server, or a client that proved itself with its secret, from any address; a public client proves nothing. */
function trackerOf(caller: ProvenCaller, ip: string): Tracker | null {
  if (caller.kind === 'resource') return { key: `resource:${caller.resourceId}`, kind: 'resource', ip, resource: caller.resource };
  return caller.confidential ? { key: `client:${caller.clientId}`, kind: 'client', ip, clientId: caller.clientId } : null;
}

/**
 * The client address: the socket peer, or what a trusted proxy forwarded (Express applies TRUSTED_PROXIES to
 * req.ip). IPv4-mapped IPv6 is unwrapped, and IPv6 is counted per /64, the smallest block a host usually gets.
 */
export function clientAddress(req: HttpRequest): string {
  const raw = req.ip ?? req.socket.remoteAddress ?? 'unknown';
  const unmapped = raw.startsWith('::ffff:') && raw.includes('.') ? raw.slice(7) : raw;
  return unmapped.includes(':') ? normalizeIp(unmapped, 64) : unmapped;
}

function bodyOf(req: HttpRequest): ParsedBody {
  const body: unknown = req.body;
  return typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as ParsedBody) : {};
}
