import { Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsDefined, IsEmail, IsIn, IsOptional, IsString, Length, Matches, ValidateNested } from 'class-validator';

/** Printable text: no control characters, no lone surrogates. */
const PRINTABLE = /^[^\p{Cc}\p{Cs}]+$/u;

export class ExternalUserDto {
  /** The product's own opaque user id: it becomes a Gatehouse subject scoped to the resource server. */
  @IsString()
  @Length(1, 255, { message: 'user.id must be 1 to 255 characters' })
  @Matches(PRINTABLE, { message: 'user.id must be printable text (no control characters)' })
  id!: string;

  @IsOptional() @IsEmail() @Length(3, 320) email?: string;
  @IsOptional() @IsString() @Length(1, 200) @Matches(PRINTABLE) name?: string;
}

/** POST /api/login/complete: the product says who signed in on its login page. */
export class CompleteLoginDto {
  @IsString() @Length(1, 200) external_auth_id!: string;

  @IsDefined() @ValidateNested() @Type(() => ExternalUserDto) user!: ExternalUserDto;
}

/** POST /api/consent/complete: the product's consent page reports the user's decision. */
export class CompleteConsentDto {
  @IsString() @Length(1, 200) interaction_id!: string;

  /** The user the consent page was shown to: the `user_id` Gatehouse sent to it. */
  @IsString() @Length(1, 255) @Matches(PRINTABLE) user_id!: string;

  @IsIn(['approve', 'deny']) decision!: 'approve' | 'deny';

  /** Optional narrowing: a subset of the requested scopes. */
  @IsOptional() @IsArray() @ArrayMaxSize(100) @IsString({ each: true }) @Length(1, 200, { each: true }) scopes?: string[];
}
