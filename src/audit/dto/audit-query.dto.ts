import { IsISO8601, IsOptional, IsString, Matches, MaxLength } from 'class-validator';

/** One or more event types or prefixes (`token.issued,admin.*`). */
const TYPE_LIST = /^[a-z_]+\.(?:[a-z_]+|\*)(?:,[a-z_]+\.(?:[a-z_]+|\*))*$/;

/** GET /admin/audit: filters (all optional, combined with AND) and a seq cursor. */
export class AuditQueryDto {
  @IsOptional() @IsString() @MaxLength(1000) @Matches(TYPE_LIST, { message: 'type must be event types or prefixes such as admin.*, comma-separated' })
  type?: string;

  @IsOptional() @IsISO8601({ strict: true }, { message: 'since must be an ISO 8601 date-time' })
  since?: string;

  @IsOptional() @IsISO8601({ strict: true }, { message: 'until must be an ISO 8601 date-time' })
  until?: string;

  @IsOptional() @IsString() @MaxLength(2000)
  client_id?: string;

  @IsOptional() @IsString() @MaxLength(255)
  sub?: string;

  @IsOptional() @Matches(/^\d{1,15}$/, { message: 'cursor must be a next_cursor from an earlier page (a seq)' })
  cursor?: string;

  @IsOptional() @Matches(/^\d{1,4}$/, { message: 'limit must be a whole number from 1 to 1000' })
  limit?: string;
}

/** GET /admin/audit/stream: the same filters but time, and where to start (Last-Event-ID wins over cursor). */
export class AuditStreamQueryDto {
  @IsOptional() @IsString() @MaxLength(1000) @Matches(TYPE_LIST, { message: 'type must be event types or prefixes such as admin.*, comma-separated' })
  type?: string;

  @IsOptional() @IsString() @MaxLength(2000)
  client_id?: string;

  @IsOptional() @IsString() @MaxLength(255)
  sub?: string;

  @IsOptional() @Matches(/^\d{1,15}$/, { message: 'cursor must be a seq' })
  cursor?: string;
}
