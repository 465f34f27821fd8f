import { ArrayMaxSize, IsArray, IsOptional, IsString, Length, Matches } from 'class-validator';
import { IsWebUrl, SCOPE_TOKEN } from '../../common/validation.js';

/** In URLs (`/login/oidc/<id>/callback`) and identities (`oidc:<id>`), so it never changes once created. */
export const PROVIDER_ID = /^[a-z0-9][a-z0-9-]{0,31}$/;
const CLAIM_NAME = /^[\x21-\x7e]{1,200}$/;

export class CreateIdentityProviderDto {
  @IsString() @Matches(PROVIDER_ID, { message: 'id must be 1 to 32 lower-case letters, digits or dashes, starting with a letter or digit' })
  id!: string;

  /** Shown on the sign-in page: "Continue with <display_name>". */
  @IsString() @Length(1, 100) display_name!: string;

  /** The issuer identifier; its metadata is read from <issuer>/.well-known/openid-configuration. */
  @IsWebUrl() issuer!: string;

  @IsString() @Length(1, 500) client_id!: string;

  /** Write-only: stored encrypted, never returned. */
  @IsString() @Length(1, 2000) client_secret!: string;

  /** Default `openid email profile`; `openid` is always added. */
  @IsOptional() @IsArray() @ArrayMaxSize(50) @IsString({ each: true })
  @Matches(SCOPE_TOKEN, { each: true, message: 'each scope must be a scope-token (RFC 6749 §3.3)' })
  scopes?: string[];

  /** The claim that lists the person's groups (e.g. `groups`); none when unset. */
  @IsOptional() @IsString() @Matches(CLAIM_NAME, { message: 'groups_claim must be a claim name (printable ASCII, no spaces)' })
  groups_claim?: string;
}

export class UpdateIdentityProviderDto {
  @IsOptional() @IsString() @Length(1, 100) display_name?: string;
  @IsOptional() @IsWebUrl() issuer?: string;
  @IsOptional() @IsString() @Length(1, 500) client_id?: string;
  @IsOptional() @IsString() @Length(1, 2000) client_secret?: string;

  @IsOptional() @IsArray() @ArrayMaxSize(50) @IsString({ each: true })
  @Matches(SCOPE_TOKEN, { each: true, message: 'each scope must be a scope-token (RFC 6749 §3.3)' })
  scopes?: string[];

  /** `null` clears it. */
  @IsOptional() @IsString() @Matches(CLAIM_NAME, { message: 'groups_claim must be a claim name (printable ASCII, no spaces)' })
  groups_claim?: string | null;
}

/** What the admin API returns: the secret only as whether it is set. */
export interface IdentityProviderView {
  id: string;
  display_name: string;
  issuer: string;
  client_id: string;
  client_secret_set: true;
  scopes: string[];
  groups_claim: string | null;
  /** Where the provider must send people back: register it with the provider. */
  redirect_uri: string;
  created_at: string;
  updated_at: string;
}
