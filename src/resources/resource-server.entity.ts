import type { IdentityClaimName } from './identity-claims.js';
import { Check, Column, Entity, Index, PrimaryGeneratedColumn, Unique } from 'typeorm';
import type { SignInPolicy } from './sign-in-policy.js';
import type { ScopeDescriptions } from './scope-descriptions.js';

/** Who signs people in for a resource server (see ResourceServerEntity.loginMethod). */
export type LoginMethod = 'gatehouse' | 'external';

@Entity('resource_servers')
@Unique('resource_servers_resource_key', ['resource'])
@Unique('resource_servers_registration_secret_hash_key', ['registrationSecretHash'])
@Unique('resource_servers_previous_registration_secret_hash_key', ['previousRegistrationSecretHash'])
@Check('resource_servers_previous_secret_has_expiry', '(previous_registration_secret_hash IS NULL) = (previous_registration_secret_expires_at IS NULL)')
@Check('resource_servers_access_token_ttl_check', 'access_token_ttl > 0')
@Check('resource_servers_refresh_token_ttl_check', 'refresh_token_ttl > 0')
@Check('resource_servers_login_method_check', "login_method IN ('gatehouse', 'external')")
@Check('resource_servers_external_needs_login_uri', "login_method <> 'external' OR login_uri IS NOT NULL")
// At most one resource is the default for requests that name none.
@Index('resource_servers_one_default', ['isDefault'], { unique: true, where: 'is_default' })
export class ResourceServerEntity {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column('text') name!: string;
  /** The canonical resource URL (RFC 8707); the `aud` of its access tokens. */
  @Column('text') resource!: string;
  @Column('text', { array: true }) scopes!: string[];
  /** A short human description of some or all of `scopes`, keyed by scope; the pages fall back to the code. */
  @Column('jsonb', { name: 'scope_descriptions', default: () => "'{}'" }) scopeDescriptions!: ScopeDescriptions;
  @Column('text', { name: 'default_scopes', array: true }) defaultScopes!: string[];
  @Column('integer', { name: 'access_token_ttl', default: 3600 }) accessTokenTtl!: number;
  @Column('integer', { name: 'refresh_token_ttl', default: 2592000 }) refreshTokenTtl!: number;
  @Column('text', { name: 'logo_uri', nullable: true }) logoUri!: string | null;
  @Column('text', { name: 'policy_uri', nullable: true }) policyUri!: string | null;
  @Column('text', { name: 'tos_uri', nullable: true }) tosUri!: string | null;
  @Column('boolean', { name: 'is_default', default: false }) isDefault!: boolean;
  /**
   * `gatehouse`: Gatehouse's own sign-in page (GitHub, OpenID Connect providers); `external`: the product's login page
   * at `loginUri`, completed server to server.
   */
  @Column('text', { name: 'login_method', default: 'gatehouse' }) loginMethod!: LoginMethod;
  @Column('text', { name: 'login_uri', nullable: true }) loginUri!: string | null;
  /** Who may sign in through Gatehouse's page (login method `gatehouse` only); by default nobody, until it is set. */
  @Column('jsonb', { name: 'sign_in', default: () => `'{"allow": {}, "providers": null}'` }) signIn!: SignInPolicy;
  /** When set, the product hosts the consent page and posts the decision to /api/consent/complete. */
  @Column('text', { name: 'consent_uri', nullable: true }) consentUri!: string | null;
  /** The identity claims (IDENTITY_CLAIMS) its access tokens and introspection answers carry; none by default. */
  @Column('text', { name: 'identity_claims', array: true, default: () => "'{}'" }) identityClaims!: IdentityClaimName[];
  @Column('text', { name: 'registration_secret_hash' }) registrationSecretHash!: string;
  /** The secret a rotation replaced: still accepted until `previousRegistrationSecretExpiresAt`, then ignored. */
  @Column('text', { name: 'previous_registration_secret_hash', nullable: true }) previousRegistrationSecretHash!: string | null;
  @Column('timestamptz', { name: 'previous_registration_secret_expires_at', nullable: true }) previousRegistrationSecretExpiresAt!: Date | null;
  /** Tokens for this resource only for a client that proves a DPoP key (RFC 9449): the token endpoint refuses proof-less requests. */
  @Column('boolean', { name: 'require_dpop', default: false }) requireDpop!: boolean;
  @Column('timestamptz', { name: 'created_at', default: () => 'now()' }) createdAt!: Date;
  @Column('timestamptz', { name: 'updated_at', default: () => 'now()' }) updatedAt!: Date;
}
