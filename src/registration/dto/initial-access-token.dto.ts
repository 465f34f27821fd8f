import { IsInt, IsOptional, IsString, Length, Max, Min } from 'class-validator';

export class CreateInitialAccessTokenDto {
  /** What it is for, for the administrators' own records (`"CI runners"`). */
  @IsOptional() @IsString() @Length(1, 200) description?: string;

  /** How many clients it may register; omitted: no limit. */
  @IsOptional() @IsInt() @Min(1) @Max(1_000_000) max_registrations?: number;

  /** Seconds until it expires (1 minute to 1 year); omitted: it does not expire (revoke it instead). */
  @IsOptional() @IsInt() @Min(60) @Max(31_536_000) expires_in?: number;
}

/** What the admin API and the CLI show of a token: never the token itself, which is returned only when created. */
export interface InitialAccessTokenView {
  id: string;
  description: string | null;
  max_registrations: number | null;
  /** Registrations made with it so far. */
  registrations: number;
  /** `active`, or why it can no longer register: `revoked`, `expired`, `used_up`. */
  status: 'active' | 'revoked' | 'expired' | 'used_up';
  expires_at: string | null;
  created_at: string;
  revoked_at: string | null;
}
