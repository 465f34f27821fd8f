import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { ClientEntity } from '../registration/client.entity.js';
import { ResourceServerEntity } from '../resources/resource-server.entity.js';
import { UserEntity } from './user.entity.js';

@Entity('authorization_codes')
@Index('authorization_codes_expiry', ['expiresAt'])
export class AuthorizationCodeEntity {
  @PrimaryColumn('text', { name: 'code_hash' }) codeHash!: string;
  @Column('text', { name: 'client_id' }) clientId!: string;
  @Column('uuid', { name: 'user_id' }) userId!: string;
  @Column('uuid', { name: 'resource_id' }) resourceId!: string;
  @Column('text', { array: true }) scopes!: string[];
  @Column('text', { name: 'redirect_uri' }) redirectUri!: string;
  @Column('text', { name: 'code_challenge' }) codeChallenge!: string;
  /** RFC 9449 §10: the thumbprint of the key whose DPoP proof the exchange needs (the request's `dpop_jkt`); null: any or none. */
  @Column('text', { name: 'dpop_jkt', nullable: true }) dpopJkt!: string | null;
  /** The provider of the identity that signed in (`github`, `oidc:<id>`, `external`): the grant's identity claims come from it. */
  @Column('text', { name: 'identity_provider', nullable: true }) identityProvider!: string | null;
  @Column('timestamptz', { name: 'created_at', default: () => 'now()' }) createdAt!: Date;
  @Column('timestamptz', { name: 'expires_at' }) expiresAt!: Date;
  @Column('timestamptz', { name: 'consumed_at', nullable: true }) consumedAt!: Date | null;
  /** The grant the code was exchanged for; revoked if the code is ever presented again. */
  @Column('uuid', { name: 'grant_id', nullable: true }) grantId!: string | null;
  @ManyToOne(() => ClientEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'client_id', foreignKeyConstraintName: 'authorization_codes_client_id_fkey' })
  client?: ClientEntity;
  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'authorization_codes_user_id_fkey' })
  user?: UserEntity;
  @ManyToOne(() => ResourceServerEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'resource_id', foreignKeyConstraintName: 'authorization_codes_resource_id_fkey' })
  resourceServer?: ResourceServerEntity;
  // Named rather than imported: grants (tokens/) are made from codes, so tokens/ imports this module, not the reverse.
  @ManyToOne('GrantEntity', { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'grant_id', foreignKeyConstraintName: 'authorization_codes_grant_id_fkey' })
  grant?: object;
}
