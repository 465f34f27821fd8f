import type { AuditOutcome } from './audit-event.entity.js';
import { AUDIT_EVENT_TYPES, isAuditEventType, type AuditEventV1 } from './audit-schema.js';
import { isStorableText } from '../common/validation.js';

/** Every outcome an event can have (the table's CHECK constraint); a record, so a new outcome must be added here. */
const OUTCOMES: Record<AuditOutcome, true> = { success: true, failure: true, denied: true, active: true, inactive: true };
export const AUDIT_OUTCOMES = Object.keys(OUTCOMES) as AuditOutcome[];

export function isAuditOutcome(value: string): value is AuditOutcome {
  return Object.hasOwn(OUTCOMES, value);
}

/** One or more event types or prefixes (`token.issued,admin.*`). */
export const AUDIT_TYPE_LIST = /^[a-z_]+\.(?:[a-z_]+|\*)(?:,[a-z_]+\.(?:[a-z_]+|\*))*$/;

/** The longest value each filter takes (a client_id may be a metadata document URL). */
export const AUDIT_FILTER_MAX_LENGTH = { type: 1000, client_id: 2000, sub: 255, resource: 2000 } as const;

/** What the query API, the streams and the console's export select events by; every condition must hold. */
export interface AuditEventFilter {
  /** Exact types, or prefixes written `admin.*`. */
  types?: string[];
  clientId?: string;
  subject?: string;
  resource?: string;
  outcome?: AuditOutcome;
}

/** The filters as they arrive in a query string (the admin API's names, which the console's form uses too). */
export interface AuditFilterQuery {
  type?: string;
  client_id?: string;
  sub?: string;
  resource?: string;
  outcome?: string;
}

/** The filter a query asks for, or a sentence saying what is wrong with it. */
export function parseAuditFilter(query: AuditFilterQuery): { filter: AuditEventFilter } | { problem: string } {
  for (const name of ['client_id', 'sub', 'resource'] as const) {
    const value = query[name];
    if (value === undefined) continue;
    if (!isStorableText(value)) return { problem: `${name} must not contain NUL characters` };
    if (value.length > AUDIT_FILTER_MAX_LENGTH[name]) return { problem: `${name} must be at most ${AUDIT_FILTER_MAX_LENGTH[name]} characters` };
  }
  let types: string[] | undefined;
  if (query.type !== undefined) {
    if (query.type.length > AUDIT_FILTER_MAX_LENGTH.type || !AUDIT_TYPE_LIST.test(query.type)) {
      return { problem: 'type must be event types or prefixes such as admin.*, comma-separated' };
    }
    types = query.type.split(',');
    for (const type of types) {
      const known = type.endsWith('.*') ? AUDIT_EVENT_TYPES.some((candidate) => candidate.startsWith(type.slice(0, -1))) : isAuditEventType(type);
      if (!known) return { problem: `unknown event type ${type}` };
    }
  }
  if (query.outcome !== undefined && !isAuditOutcome(query.outcome)) return { problem: `outcome must be one of ${AUDIT_OUTCOMES.join(', ')}` };
  return { filter: { types, clientId: query.client_id, subject: query.sub, resource: query.resource, outcome: query.outcome } };
}

/** The streams' test of each event, the same conditions the repository's find puts in its WHERE. */
export function matchesAuditFilter(event: AuditEventV1, filter: AuditEventFilter): boolean {
  if (filter.clientId !== undefined && event.client_id !== filter.clientId) return false;
  if (filter.subject !== undefined && event.subject !== filter.subject) return false;
  if (filter.resource !== undefined && event.resource !== filter.resource) return false;
  if (filter.outcome !== undefined && event.outcome !== filter.outcome) return false;
  if (filter.types && !filter.types.some((type) => (type.endsWith('.*') ? event.type.startsWith(type.slice(0, -1)) : event.type === type))) return false;
  return true;
}
