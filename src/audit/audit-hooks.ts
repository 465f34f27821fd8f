import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import type { AuditEventV1 } from './audit-schema.js';
import type { AuditSink } from './audit-sink.js';

/** `token.issued` (a new grant: authorization_code or mint) or `token.refreshed`, in the shape embedders want. */
export interface TokenIssuedHookEvent {
  type: 'token.issued' | 'token.refreshed';
  grantType: string;
  grantId: string | null;
  jti: string | null;
  clientId: string | null;
  subject: string | null;
  resource: string | null;
  scopes: string[];
  event: AuditEventV1;
}

/** `token.revoked` (one token at /revoke) or `grant.revoked` (a grant with all its tokens). */
export interface RevocationHookEvent {
  type: 'token.revoked' | 'grant.revoked';
  /** The revoked access token's jti (token.revoked of an access token); null otherwise. */
  jti: string | null;
  grantId: string | null;
  reason: string | null;
  clientId: string | null;
  subject: string | null;
  event: AuditEventV1;
}

type Listener<T> = (event: T) => void | Promise<void>;

export interface AuditHooksOptions {
  onEvent?: Listener<AuditEventV1>;
  onTokenIssued?: Listener<TokenIssuedHookEvent>;
  onRevocation?: Listener<RevocationHookEvent>;
}

export const AUDIT_HOOKS_OPTIONS = Symbol('AUDIT_HOOKS_OPTIONS');

/**
 * In-process hooks for code that embeds Gatehouse's modules: `onTokenIssued`, `onRevocation`, `onEvent`. Listeners
 * are called after the change has committed, in seq order, one event at a time, from the dispatcher (so events
 * committed just before a crash reach listeners registered at boot after the restart). A listener that throws is
 * logged and not retried: a bug in one hook must not hold back the others.
 *
 * With no listener the sink is inactive and costs no database work; a listener added later receives the events
 * committed from then on.
 */
@Injectable()
export class AuditHooks implements AuditSink {
  readonly id = 'hooks';
  readonly batchSize = 100;
  private readonly logger = new Logger('AuditHooks');
  private readonly events = new Set<Listener<AuditEventV1>>();
  private readonly issued = new Set<Listener<TokenIssuedHookEvent>>();
  private readonly revocations = new Set<Listener<RevocationHookEvent>>();
  private readonly activity = new Set<() => void>();

  constructor(@Optional() @Inject(AUDIT_HOOKS_OPTIONS) options?: AuditHooksOptions) {
    if (options?.onEvent) this.onEvent(options.onEvent);
    if (options?.onTokenIssued) this.onTokenIssued(options.onTokenIssued);
    if (options?.onRevocation) this.onRevocation(options.onRevocation);
  }

  /** Every event. Returns a function that removes the listener. */
  onEvent(listener: Listener<AuditEventV1>): () => void {
    return this.subscribe(this.events, listener);
  }

  onTokenIssued(listener: Listener<TokenIssuedHookEvent>): () => void {
    return this.subscribe(this.issued, listener);
  }

  onRevocation(listener: Listener<RevocationHookEvent>): () => void {
    return this.subscribe(this.revocations, listener);
  }

  /** Whether any listener is registered: without one there is nothing to deliver to. */
  isActive(): boolean {
    return this.events.size + this.issued.size + this.revocations.size > 0;
  }

  onActivityChange(listener: () => void): () => void {
    this.activity.add(listener);
    return () => this.activity.delete(listener);
  }

  private subscribe<T>(listeners: Set<Listener<T>>, listener: Listener<T>): () => void {
    listeners.add(listener);
    this.changed();
    return () => {
      if (listeners.delete(listener)) this.changed();
    };
  }

  private changed(): void {
    for (const notify of this.activity) notify();
  }

  async deliver(events: readonly AuditEventV1[]): Promise<void> {
    for (const event of events) {
      for (const listener of this.events) await this.call('onEvent', listener, event);
      if (event.type === 'token.issued' || event.type === 'token.refreshed') {
        const issued: TokenIssuedHookEvent = {
          type: event.type,
          grantType: event.type === 'token.refreshed' ? 'refresh_token' : text(event.data.grant_type) ?? 'authorization_code',
          grantId: text(event.data.grant_id),
          jti: text(event.data.jti),
          clientId: event.client_id,
          subject: event.subject,
          resource: event.resource,
          scopes: event.scopes ?? [],
          event,
        };
        for (const listener of this.issued) await this.call('onTokenIssued', listener, issued);
      }
      if (event.type === 'token.revoked' || event.type === 'grant.revoked') {
        const revocation: RevocationHookEvent = {
          type: event.type,
          jti: text(event.data.jti),
          grantId: text(event.data.grant_id),
          reason: text(event.data.reason) ?? (event.type === 'token.revoked' ? `revoked_by_${text(event.data.by) ?? 'client'}` : null),
          clientId: event.client_id,
          subject: event.subject,
          event,
        };
        for (const listener of this.revocations) await this.call('onRevocation', listener, revocation);
      }
    }
  }

  private async call<T>(hook: string, listener: Listener<T>, value: T): Promise<void> {
    try {
      await listener(value);
    } catch (error) {
      this.logger.warn({ msg: 'audit hook failed', hook }, error);
    }
  }
}

function text(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}
