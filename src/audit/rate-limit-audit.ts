import { Injectable } from '@nestjs/common';
import type { RateLimitBlock, RateLimitObserver, Tracker } from '../rate-limit/rate-limit-options.js';
import type { AuditActorKind } from './audit-event.entity.js';
import { AuditLog } from './audit-log.js';

/** Records each rate-limit block as `rate_limit.exceeded`. */
@Injectable()
export class RateLimitAudit implements RateLimitObserver {
  constructor(private readonly audit: AuditLog) {}

  blocked({ policy, tracker, retryAfterSeconds, request }: RateLimitBlock): void {
    // A refusal changes nothing: written behind, batched with other observations, never delaying the 429.
    this.audit.recordObservation({
      type: 'rate_limit.exceeded',
      clientId: tracker.clientId ?? null,
      resource: tracker.resource ?? null,
      actor: actorOf(tracker),
      request,
      data: { policy, tracker: tracker.kind, retry_after: retryAfterSeconds },
    });
  }
}

/** An unauthenticated caller is a client nobody identified (the event's ip says where from). */
function actorOf(tracker: Tracker): { kind: AuditActorKind; id: string | null } {
  switch (tracker.kind) {
    case 'client':
      return { kind: 'client', id: tracker.clientId ?? null };
    case 'resource':
      return { kind: 'resource', id: tracker.resource ?? null };
    case 'admin':
      return { kind: 'admin', id: 'api' };
    case 'ip':
      return { kind: 'client', id: null };
  }
}
