import { Column, Entity, PrimaryColumn } from 'typeorm';

@Entity('resource_servers')
export class ResourceServerEntity {
  @PrimaryColumn('uuid') id!: string;
  @Column('text') name!: string;
  /** The canonical resource URL (RFC 8707); the `aud` of its access tokens. */
  @Column('text') resource!: string;
  @Column('text', { array: true }) scopes!: string[];
  @Column('text', { name: 'default_scopes', array: true }) defaultScopes!: string[];
  @Column('integer', { name: 'access_token_ttl' }) accessTokenTtl!: number;
  @Column('integer', { name: 'refresh_token_ttl' }) refreshTokenTtl!: number;
  @Column('text', { name: 'logo_uri', nullable: true }) logoUri!: string | null;
  @Column('text', { name: 'policy_uri', nullable: true }) policyUri!: string | null;
  @Column('text', { name: 'tos_uri', nullable: true }) tosUri!: string | null;
  @Column('boolean', { name: 'is_default' }) isDefault!: boolean;
  /** `github`: Gatehouse's own sign-in; `external`: the product's login page at `loginUri`, completed server to server. */
  @Column('text', { name: 'login_method' }) loginMethod!: 'github' | 'external';
  @Column('text', { name: 'login_uri', nullable: true }) loginUri!: string | null;
  /** When set, the product hosts the consent page and posts the decision to /api/consent/complete. */
  @Column('text', { name: 'consent_uri', nullable: true }) consentUri!: string | null;
  @Column('text', { name: 'registration_secret_hash' }) registrationSecretHash!: string;
  @Column('timestamptz', { name: 'created_at' }) createdAt!: Date;
  @Column('timestamptz', { name: 'updated_at' }) updatedAt!: Date;
}
