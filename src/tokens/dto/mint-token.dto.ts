import { ArrayMaxSize, IsArray, IsOptional, IsString, Length, Matches } from 'class-validator';

/** Printable text: no control characters, no lone surrogates. */
const PRINTABLE = /^[^\p{Cc}\p{Cs}]+$/u;

/** POST /api/oauth/token/exchange: a product backend vouches for one of its own users. */
export class MintTokenDto {
  /** The MCP client the token is for (a registered id, or a Client ID Metadata Document URL); it can later refresh it. */
  @IsString() @Length(1, 2000) client_id!: string;

  /** The product's own opaque user id. */
  @IsString()
  @Length(1, 255, { message: 'subject must be 1 to 255 characters' })
  @Matches(PRINTABLE, { message: 'subject must be printable text (no control characters)' })
  subject!: string;

  /** Must be scopes of the calling resource server; omitted means its default scopes. */
  @IsOptional() @IsArray() @ArrayMaxSize(100) @IsString({ each: true }) @Length(1, 200, { each: true })
  scopes?: string[];
}
