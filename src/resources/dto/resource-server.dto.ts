import type { LoginMethod } from '../resource-server.entity.js';
import type { SignInPolicy } from '../sign-in-policy.js';
import { Type } from 'class-transformer';
import {
  IsIn,
  IsObject,
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsInt,
  IsOptional,
  IsString,
  Length,
  Matches,
  Max,
  Min,
  ValidateNested,
} from 'class-validator';
import { AbsentBodyIsEmpty, IsWebUrl, SCOPE_TOKEN } from '../../common/validation.js';
import { IDENTITY_CLAIMS, type IdentityClaimName } from '../identity-claims.js';

/** A login method as the admin API accepts it: `github` is the earlier name of `gatehouse`. */
export type LoginMethodInput = LoginMethod | 'github';
const LOGIN_METHODS: LoginMethodInput[] = ['gatehouse', 'external', 'github'];

export class BrandingDto {
  @IsOptional() @IsWebUrl() logo_uri?: string;
  @IsOptional() @IsWebUrl() policy_uri?: string;
  @IsOptional() @IsWebUrl() tos_uri?: string;
}

export class CreateResourceServerDto {
  @IsString() @Length(1, 200) name!: string;

  /** The MCP server's canonical URL (RFC 8707): becomes the `aud` of its tokens. */
  @IsWebUrl() resource!: string;

  @IsArray() @ArrayMinSize(1) @ArrayMaxSize(100)
  @IsString({ each: true }) @Length(1, 200, { each: true })
  @Matches(SCOPE_TOKEN, { each: true, message: 'each scope must be a scope-token (RFC 6749 §3.3): printable ASCII, no spaces, quotes or backslashes' })
  scopes!: string[];

  @IsOptional() @IsArray() @ArrayMaxSize(100) @IsString({ each: true })
  default_scopes?: string[];

  /**
   * A short description per scope (`{"docs:read": "Read your documents"}`), shown on the consent and account pages;
   * checked against `scopes` by parseScopeDescriptions.
   */
  @IsOptional() @IsObject() scope_descriptions?: Record<string, unknown>;

  /** Seconds; at most 24 h so that a retired signing key can leave the JWKS a day after rotation. */
  @IsOptional() @IsInt() @Min(60) @Max(86_400) access_token_ttl?: number;

  /** Seconds; between 5 minutes and 1 year. */
  @IsOptional() @IsInt() @Min(300) @Max(31_536_000) refresh_token_ttl?: number;

  @IsOptional() @ValidateNested() @Type(() => BrandingDto) branding?: BrandingDto;

  @IsOptional() @IsBoolean() is_default?: boolean;

  /**
   * `gatehouse` (default): Gatehouse's sign-in page; `external`: users sign in on the product's own page at
   * `login_uri`. `github` is the earlier name of `gatehouse`, still accepted.
   */
  @IsOptional() @IsIn(LOGIN_METHODS) login_method?: LoginMethodInput;
  @IsOptional() @IsWebUrl() login_uri?: string;
  /** A product-hosted consent page; Gatehouse's own is used when unset. */
  @IsOptional() @IsWebUrl() consent_uri?: string;
  /**
   * Who may sign in (login method `gatehouse`): `{ providers, allow }`, checked by parseSignInPolicy. Unset on create:
   * nobody, until it is set.
   */
  @IsOptional() @IsObject() sign_in?: Record<string, unknown>;

  /** Identity claims its access tokens and introspection answers carry (IDENTITY_CLAIMS); none by default. */
  @IsOptional() @IsArray() @ArrayMaxSize(IDENTITY_CLAIMS.length) @IsIn(IDENTITY_CLAIMS, { each: true, message: `each identity claim must be one of ${IDENTITY_CLAIMS.join(', ')}` })
  identity_claims?: IdentityClaimName[];
  /** Only DPoP-bound tokens (RFC 9449) for this resource: the token endpoint refuses requests without a proof. */
  @IsOptional() @IsBoolean() require_dpop?: boolean;
}

export class UpdateResourceServerDto {
  @IsOptional() @IsString() @Length(1, 200) name?: string;
  @IsOptional() @IsWebUrl() resource?: string;

  @IsOptional() @IsArray() @ArrayMinSize(1) @ArrayMaxSize(100)
  @IsString({ each: true }) @Length(1, 200, { each: true })
  @Matches(SCOPE_TOKEN, { each: true, message: 'each scope must be a scope-token (RFC 6749 §3.3): printable ASCII, no spaces, quotes or backslashes' })
  scopes?: string[];

  @IsOptional() @IsArray() @ArrayMaxSize(100) @IsString({ each: true }) default_scopes?: string[];
  /**
   * Replaces the whole map; `{}` removes every description. Changing `scopes` without it drops the descriptions of
   * the scopes removed; sending both refuses descriptions of scopes not in the new list.
   */
  @IsOptional() @IsObject() scope_descriptions?: Record<string, unknown>;
  @IsOptional() @IsInt() @Min(60) @Max(86_400) access_token_ttl?: number;
  @IsOptional() @IsInt() @Min(300) @Max(31_536_000) refresh_token_ttl?: number;
  @IsOptional() @ValidateNested() @Type(() => BrandingDto) branding?: BrandingDto;
  @IsOptional() @IsBoolean() is_default?: boolean;
  @IsOptional() @IsIn(LOGIN_METHODS) login_method?: LoginMethodInput;
  /** `null` clears it. */
  @IsOptional() @IsWebUrl() login_uri?: string | null;
  @IsOptional() @IsWebUrl() consent_uri?: string | null;
  /** Replaces the whole policy. */
  @IsOptional() @IsObject() sign_in?: Record<string, unknown>;
  /** Replaces the list; `[]` removes every identity claim. */
  @IsOptional() @IsArray() @ArrayMaxSize(IDENTITY_CLAIMS.length) @IsIn(IDENTITY_CLAIMS, { each: true, message: `each identity claim must be one of ${IDENTITY_CLAIMS.join(', ')}` })
  identity_claims?: IdentityClaimName[];
  /** Only DPoP-bound tokens (RFC 9449) for this resource: the token endpoint refuses requests without a proof. */
  @IsOptional() @IsBoolean() require_dpop?: boolean;
}

/**
 * How long a rotated registration secret keeps working unless the rotation says otherwise: a day, long enough to
 * roll a deployment over to the new secret. 0 revokes the old secret at once.
 */
export const DEFAULT_SECRET_OVERLAP_SECONDS = 24 * 3600;
export const MAX_SECRET_OVERLAP_SECONDS = 30 * 24 * 3600;

/** `POST /admin/resources/{id}/secret`: the body is optional (no body: the default overlap). */
@AbsentBodyIsEmpty()
export class RotateSecretDto {
  /** How long the replaced secret stays valid, in seconds: default a day, 0 revokes it at once, at most 30 days. */
  @IsOptional() @IsInt() @Min(0) @Max(MAX_SECRET_OVERLAP_SECONDS) overlap_seconds?: number;
}

/** What the admin API returns: never the secret hash. */
export interface ResourceServerView {
  id: string;
  name: string;
  resource: string;
  scopes: string[];
  scope_descriptions: Record<string, string>;
  default_scopes: string[];
  access_token_ttl: number;
  refresh_token_ttl: number;
  branding: { logo_uri: string | null; policy_uri: string | null; tos_uri: string | null };
  is_default: boolean;
  login_method: LoginMethod;
  login_uri: string | null;
  consent_uri: string | null;
  sign_in: SignInPolicy;
  identity_claims: IdentityClaimName[];
  require_dpop: boolean;
  created_at: string;
  updated_at: string;
}
