import { Column, Entity, PrimaryColumn } from 'typeorm';

/** An upstream OpenID Connect provider people can sign in through; their identities are `oidc:<id>`. */
@Entity('identity_providers')
export class IdentityProviderEntity {
  /** A slug chosen by the administrator: in the sign-in URLs and in the identities' provider name. */
  @PrimaryColumn('text') id!: string;
  @Column('text', { name: 'display_name' }) displayName!: string;
  @Column('text') issuer!: string;
  @Column('text', { name: 'client_id' }) clientId!: string;
  /** AES-256-GCM with ENCRYPTION_KEY (see sealClientSecret); never returned by any endpoint. */
  @Column('text', { name: 'client_secret_sealed' }) clientSecretSealed!: string;
  /** Always includes `openid`. */
  @Column('text', { array: true, default: () => "'{openid,email,profile}'" }) scopes!: string[];
  /** The ID token (or userinfo) claim that lists the person's groups; none when unset. */
  @Column('text', { name: 'groups_claim', nullable: true }) groupsClaim!: string | null;
  @Column('timestamptz', { name: 'created_at', default: () => 'now()' }) createdAt!: Date;
  @Column('timestamptz', { name: 'updated_at', default: () => 'now()' }) updatedAt!: Date;
}
