import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';
import { UserEntity } from '../authorization/user.entity.js';
import { ClientEntity } from '../registration/client.entity.js';
import { ResourceServerEntity } from '../resources/resource-server.entity.js';
import type { IdentityClaims } from '../resources/identity-claims.js';

/** One successful authorization: the refresh-token family and every access token minted from it. */
@Entity('grants')
@Index('grants_user', ['userId'])
@Index('grants_client', ['clientId'])
@Index('grants_resource', ['resourceId'])
export class GrantEntity {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column('uuid', { name: 'user_id' }) userId!: string;
  @Column('text', { name: 'client_id' }) clientId!: string;
  @Column('uuid', { name: 'resource_id' }) resourceId!: string;
  @Column('text', { array: true }) scopes!: string[];
  /** Its access tokens' `sub`: the product's own subject for a product's user (mint, external login), else `userId`. */
  @Column('text') subject!: string;
  /** The identity claims its resource server opted into, as they were when the grant was made; every token repeats them. */
  @Column('jsonb', { default: () => "'{}'" }) claims!: IdentityClaims;
  @Column('timestamptz', { name: 'created_at', default: () => 'now()' }) createdAt!: Date;
  @Column('timestamptz', { name: 'revoked_at', nullable: true }) revokedAt!: Date | null;
  @Column('text', { name: 'revoked_reason', nullable: true }) revokedReason!: string | null;
  /** RFC 9449 §5: the DPoP key (RFC 7638 thumbprint) a public client's refresh tokens are bound to; null when unbound. */
  @Column('text', { name: 'dpop_jkt', nullable: true }) dpopJkt!: string | null;
  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'grants_user_id_fkey' })
  user?: UserEntity;
  @ManyToOne(() => ClientEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'client_id', foreignKeyConstraintName: 'grants_client_id_fkey' })
  client?: ClientEntity;
  @ManyToOne(() => ResourceServerEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'resource_id', foreignKeyConstraintName: 'grants_resource_id_fkey' })
  resourceServer?: ResourceServerEntity;
}

@Entity('refresh_tokens')
@Index('refresh_tokens_grant', ['grantId'])
export class RefreshTokenEntity {
  @PrimaryColumn('text', { name: 'token_hash' }) tokenHash!: string;
  @Column('uuid', { name: 'grant_id' }) grantId!: string;
  @Column('text', { name: 'parent_hash', nullable: true }) parentHash!: string | null;
  @Column('timestamptz', { name: 'created_at', default: () => 'now()' }) createdAt!: Date;
  @Column('timestamptz', { name: 'expires_at' }) expiresAt!: Date;
  @Column('timestamptz', { name: 'rotated_at', nullable: true }) rotatedAt!: Date | null;
  /** Successors issued to retries after the rotation (refresh reuse grace). */
  @Column('integer', { name: 'retries', default: 0 }) retries!: number;
  @ManyToOne(() => GrantEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'grant_id', foreignKeyConstraintName: 'refresh_tokens_grant_id_fkey' })
  grant?: GrantEntity;
}
