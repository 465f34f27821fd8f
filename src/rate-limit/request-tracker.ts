import { Inject, Injectable } from '@nestjs/common';
import { normalizeIp } from '@nestjs/throttler';
import type { HttpRequest } from '../common/http.js';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../config/config.js';
import { safeEqual } from '../common/crypto.js';
import type { ParsedBody } from '../common/body-parser.js';
import { ClientAuthenticator } from '../registration/client-authenticator.js';
import { CallerAuthenticator } from '../introspection/caller-authenticator.js';
import { ResourcesService } from '../resources/resources.service.js';
import { resourceFromBearer } from '../resources/registration-secret.guard.js';
import type { RateLimitProof } from './rate-limit-policies.js';

/** Whom a request is counted against, and what the audit event may say about it (never a credential). */
export interface Tracker {
  /** Stable key input: `ip:…`, `client:…`, `client:…@ip:…`, `resource:…` or `admin`. */
  key: string;
  kind: 'ip' | 'client' | 'public_client' | 'resource' | 'admin';
  ip: string;
  clientId?: string;
  /** The resource server's resource URL, as audit events name resources. */
  resource?: string;
}

/**
 * Finds the strongest identity a request proves, for counting. Credentials are checked the same way (and only
 * once: see memoForRequest) as the route will check them; a request whose proof fails counts against its address.
 */
@Injectable()
export class RequestTracker {
  constructor(
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    private readonly clients: ClientAuthenticator,
    private readonly callers: CallerAuthenticator,
    private readonly resources: ResourcesService,
  ) {}

  async track(req: HttpRequest, proof: RateLimitProof): Promise<Tracker> {
    const ip = clientAddress(req);
    const byAddress: Tracker = { key: `ip:${ip}`, kind: 'ip', ip };
    try {
      switch (proof) {
        case 'ip':
          return byAddress;
        case 'admin':
          return this.isAdmin(req) ? { key: 'admin', kind: 'admin', ip } : byAddress;
        case 'resource': {
          const resource = await resourceFromBearer(req, this.resources);
          return resource ? { key: `resource:${resource.id}`, kind: 'resource', ip, resource: resource.resource } : byAddress;
        }
        case 'caller': {
          const caller = await this.callers.identify(req, bodyOf(req));
          if (caller.kind === 'resource') return { key: `resource:${caller.resource.id}`, kind: 'resource', ip, resource: caller.resource.resource };
          return clientTracker(caller.client.id, caller.client.metadata.token_endpoint_auth_method === 'none', ip);
        }
        case 'client': {
          const client = await this.clients.authenticate(req, bodyOf(req));
          return clientTracker(client.id, client.metadata.token_endpoint_auth_method === 'none', ip);
        }
      }
    } catch {
      // Failed authentication: the route reports it; counting falls back to the address.
      return byAddress;
    }
  }

  private isAdmin(req: HttpRequest): boolean {
    const expected = this.config.adminToken;
    const presented = /^Bearer ([^\s]+)$/i.exec(req.headers.authorization ?? '')?.[1];
    return expected !== undefined && presented !== undefined && safeEqual(presented, expected);
  }
}

/**
 * A confidential client proved itself with its secret, wherever it connects from. A public client's client_id is
 * only a claim: it narrows the address's budget (two public clients behind one NAT count apart) but never
 * replaces it, so nobody elsewhere can spend another client's budget by naming it.
 */
function clientTracker(clientId: string, isPublic: boolean, ip: string): Tracker {
  return isPublic
    ? { key: `client:${clientId}@ip:${ip}`, kind: 'public_client', ip, clientId }
    : { key: `client:${clientId}`, kind: 'client', ip, clientId };
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
