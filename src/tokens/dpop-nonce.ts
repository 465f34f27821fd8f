import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable, UseInterceptors, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import type { Observable } from 'rxjs';
import type { HttpRequest } from '../common/http.js';
import type { BeforeHandler } from '../common/request-steps.js';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../config/config.js';
import { GATEHOUSE_SECRETS, type Secrets } from '../config/secrets.js';

/** A nonce belongs to one window of this many seconds; it is taken in its window and the next (RFC 9449 §8). */
export const DPOP_NONCE_WINDOW_SECONDS = 300;
export const DPOP_NONCE_HEADER = 'DPoP-Nonce';

/**
 * DPoP server nonces (RFC 9449 §8) without state: a nonce is the HMAC of its time window under a key derived from
 * the encryption key, so every instance that shares the database (and so the key) makes and accepts the same nonces
 * with no store between them. Accepted: the current window's, the previous one's (a nonce handed out just before a
 * window ends still works for one more window), and the next one's (another instance whose clock runs a little
 * ahead handed it out). A nonce cannot be made without the key, so a proof carrying one was signed after the nonce
 * was issued: pre-made proofs live at most two windows. The proof's `jti` stays single-use as before.
 */
@Injectable()
export class DpopNonces {
  readonly required: boolean;
  private readonly key: Buffer;
  private readonly issuer: string;
  /** The nonce current() last handed out, and its window. */
  private cached: { window: number; nonce: string } | undefined;

  constructor(@Inject(GATEHOUSE_CONFIG) config: Pick<GatehouseConfig, 'issuer' | 'dpopNonce'>, @Inject(GATEHOUSE_SECRETS) secrets: Pick<Secrets, 'encryptionKey'>) {
    this.required = config.dpopNonce === 'required';
    this.issuer = config.issuer;
    this.key = Buffer.from(hkdfSync('sha256', secrets.encryptionKey, 'gatehouse', 'dpop-nonce-v1', 32));
  }

  /** The nonce to hand out now, made once per window. `now`: seconds since the epoch (the tests' clock). */
  current(now = Date.now() / 1000): string {
    const window = windowOf(now);
    if (this.cached?.window !== window) this.cached = { window, nonce: this.nonceOf(window) };
    return this.cached.nonce;
  }

  /** Whether `nonce` is one this server (or another sharing its key) handed out in the current, previous or next window. */
  accepts(nonce: string | undefined, now = Date.now() / 1000): boolean {
    if (nonce === undefined) return false;
    const given = Buffer.from(nonce);
    const window = windowOf(now);
    let accepted = false;
    // All three compared, in constant time each, so the answer's timing says nothing about which window matched.
    for (const candidate of [window - 1, window, window + 1]) {
      const expected = Buffer.from(this.nonceOf(candidate));
      if (expected.length === given.length && timingSafeEqual(expected, given)) accepted = true;
    }
    return accepted;
  }

  private nonceOf(window: number): string {
    // The issuer too: two deployments that were given the same ENCRYPTION_KEY still take no nonce of each other's.
    return createHmac('sha256', this.key).update(`dpop-nonce\n${this.issuer}\n${window}`).digest('base64url');
  }
}

function windowOf(now: number): number {
  return Math.floor(now / DPOP_NONCE_WINDOW_SECONDS);
}

/**
 * Puts the current nonce on the answer before the handler runs, when nonces are required: every answer of the
 * endpoint carries one, the `use_dpop_nonce` refusal included (RFC 9449 §8.1), and a successful one hands the client
 * the nonce for its next request (§8.2).
 */
@Injectable()
class DpopNonceInterceptor implements NestInterceptor, BeforeHandler {
  constructor(private readonly nonces: DpopNonces) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    this.beforeHandler(context.switchToHttp().getRequest<HttpRequest>(), context.switchToHttp().getResponse<ServerResponse>());
    return next.handle();
  }

  beforeHandler(_req: HttpRequest, res: ServerResponse): void {
    if (this.nonces.required) res.setHeader(DPOP_NONCE_HEADER, this.nonces.current());
  }
}

/** The handler's answers carry `DPoP-Nonce` when DPOP_NONCE=required. */
export function SendsDpopNonce() {
  return UseInterceptors(DpopNonceInterceptor);
}
