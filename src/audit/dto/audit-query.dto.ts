import { IsIn, IsISO8601, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { AUDIT_FILTER_MAX_LENGTH, AUDIT_OUTCOMES, AUDIT_TYPE_LIST as TYPE_LIST } from '../audit-filter.js';

const OUTCOME_MESSAGE = `outcome must be one of ${AUDIT_OUTCOMES.join(', ')}`;

/** GET /admin/audit: filters (all optional, combined with AND) and a seq cursor. */
export class AuditQueryDto {
  @IsOptional() @IsString() @MaxLength(AUDIT_FILTER_MAX_LENGTH.type) @Matches(TYPE_LIST, { message: 'type must be event types or prefixes such as admin.*, comma-separated' })
  type?: string;

  @IsOptional() @IsISO8601({ strict: true }, { message: 'since must be an ISO 8601 date-time' })
  since?: string;

  @IsOptional() @IsISO8601({ strict: true }, { message: 'until must be an ISO 8601 date-time' })
  until?: string;

  @IsOptional() @IsString() @MaxLength(AUDIT_FILTER_MAX_LENGTH.client_id)
  client_id?: string;

  @IsOptional() @IsString() @MaxLength(AUDIT_FILTER_MAX_LENGTH.sub)
  sub?: string;

  /** The resource server's URL, exactly as events carry it. */
  @IsOptional() @IsString() @MaxLength(AUDIT_FILTER_MAX_LENGTH.resource)
  resource?: string;

  @IsOptional() @IsIn(AUDIT_OUTCOMES, { message: OUTCOME_MESSAGE })
  outcome?: string;

  @IsOptional() @Matches(/^\d{1,15}$/, { message: 'cursor must be a next_cursor from an earlier page (a seq)' })
  cursor?: string;

  @IsOptional() @Matches(/^\d{1,4}$/, { message: 'limit must be a whole number from 1 to 1000' })
  limit?: string;
}

/** GET /admin/audit/stream: the same filters but time, and where to start (Last-Event-ID wins over cursor). */
export class AuditStreamQueryDto {
  @IsOptional() @IsString() @MaxLength(AUDIT_FILTER_MAX_LENGTH.type) @Matches(TYPE_LIST, { message: 'type must be event types or prefixes such as admin.*, comma-separated' })
  type?: string;

  @IsOptional() @IsString() @MaxLength(AUDIT_FILTER_MAX_LENGTH.client_id)
  client_id?: string;

  @IsOptional() @IsString() @MaxLength(AUDIT_FILTER_MAX_LENGTH.sub)
  sub?: string;

  /** The resource server's URL, exactly as events carry it. */
  @IsOptional() @IsString() @MaxLength(AUDIT_FILTER_MAX_LENGTH.resource)
  resource?: string;

  @IsOptional() @IsIn(AUDIT_OUTCOMES, { message: OUTCOME_MESSAGE })
  outcome?: string;

  @IsOptional() @Matches(/^\d{1,15}$/, { message: 'cursor must be a seq' })
  cursor?: string;
}
