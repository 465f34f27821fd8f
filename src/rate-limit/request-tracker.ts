import { Inject, Injectable } from '@nestjs/common';
import { normalizeIp } from '@nestjs/throttler';
import type { HttpRequest } from '../common/http.js';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../config/config.js';
import { safeEqual } from '../common/crypto.js';
import type { ParsedBody } from '../common/body-parser.js';
import { ClientAuthenticator } from '../registration/client-authenticator.js';
import type { ClientEntity } from '../registration/client.entity.js';
import { CallerAuthenticator } from '../introspection/caller-authenticator.js';
import { ResourcesService } from '../resources/resources.service.js';
import { resourceFromBearer } from '../resources/registration-secret.guard.js';
import type { RateLimitProof } from './rate-limit-policies.js';

/** Whom a request is counted against, and what the audit event may say about it (never a credential). */
export interface Tracker {
  /** Stable key input: `ip:…`, `client:…`, `resource:…` or `admin`. */
  key: string;
  kind: 'ip' | 'client' | 'resource' | 'admin';
  ip: string;
  clientId?: string;
  /** The resource server's resource URL, as audit events name resources. */
  resource?: string;
}

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
    private readonly clients: ClientAuthenticator,
    private readonly callers: CallerAuthenticator,
    private readonly resources: ResourcesService,
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
          const resource = await resourceFromBearer(req, this.resources);
          return resource ? { key: `resource:${resource.id}`, kind: 'resource', ip, resource: resource.resource } : null;
        }
        case 'caller': {
          if (!presentsSecret(req)) return null;
          const caller = await this.callers.identify(req, bodyOf(req));
          if (caller.kind === 'resource') return { key: `resource:${caller.resource.id}`, kind: 'resource', ip, resource: caller.resource.resource };
          return confidentialClient(caller.client, ip);
        }
        case 'client': {
          if (!presentsSecret(req)) return null;
          return confidentialClient(await this.clients.authenticate(req, bodyOf(req)), ip);
        }
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

/** A client that proved itself with its secret, wherever it connects from; a public client proves nothing. */
function confidentialClient(client: ClientEntity, ip: string): Tracker | null {
  return client.metadata.token_endpoint_auth_method === 'none' ? null : { key: `client:${client.id}`, kind: 'client', ip, clientId: client.id };
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
