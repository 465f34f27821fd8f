import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, Unique } from 'typeorm';
import { ClientEntity } from '../registration/client.entity.js';
import { ResourceServerEntity } from '../resources/resource-server.entity.js';
import { UserEntity } from './user.entity.js';

/** A validated /authorize request waiting for sign-in and consent. Bound to the browser that started it. */
@Entity('interactions')
@Index('interactions_expiry', ['expiresAt'])
@Unique('interactions_external_auth_hash_key', ['externalAuthHash'])
@Unique('interactions_consent_handle_hash_key', ['consentHandleHash'])
export class InteractionEntity {
  @PrimaryColumn('text') id!: string;
  /** SHA-256 of the secret held in the browser's path-scoped interaction cookie. */
  @Column('text', { name: 'browser_hash' }) browserHash!: string;
  @Column('text', { name: 'client_id' }) clientId!: string;
  @Column('uuid', { name: 'resource_id' }) resourceId!: string;
  @Column('text', { name: 'redirect_uri' }) redirectUri!: string;
  @Column('text', { array: true }) scopes!: string[];
  @Column('text', { nullable: true }) state!: string | null;
  @Column('text', { name: 'code_challenge' }) codeChallenge!: string;
  /** RFC 9449 §10 `dpop_jkt`: the code made from this interaction is exchanged only with a proof by this key. */
  @Column('text', { name: 'dpop_jkt', nullable: true }) dpopJkt!: string | null;
  @Column('uuid', { name: 'user_id', nullable: true }) userId!: string | null;
  @Column('timestamptz', { name: 'created_at', default: () => 'now()' }) createdAt!: Date;
  @Column('timestamptz', { name: 'expires_at' }) expiresAt!: Date;
  @Column('timestamptz', { name: 'completed_at', nullable: true }) completedAt!: Date | null;
  /** External login: SHA-256 of the single-use `external_auth_id` handed to the product's login page. */
  @Column('text', { name: 'external_auth_hash', nullable: true }) externalAuthHash!: string | null;
  @Column('timestamptz', { name: 'external_auth_expires_at', nullable: true }) externalAuthExpiresAt!: Date | null;
  /**
   * External login: SHA-256 of the single-use ticket in the `redirect_uri` the product's completion got back. Set
   * (with `userId`) by the product's completion; the login counts only once the browser bound to this interaction
   * brings the ticket back.
   */
  @Column('text', { name: 'login_return_hash', nullable: true }) loginReturnHash!: string | null;
  /** Set when the browser came back from the product's completed login (then `userId` is its external user). */
  @Column('timestamptz', { name: 'login_completed_at', nullable: true }) loginCompletedAt!: Date | null;
  /** Custom consent: SHA-256 of the single-use `interaction_id` handed to the product's consent page. */
  @Column('text', { name: 'consent_handle_hash', nullable: true }) consentHandleHash!: string | null;
  @Column('timestamptz', { name: 'consent_handle_expires_at', nullable: true }) consentHandleExpiresAt!: Date | null;
  @ManyToOne(() => ClientEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'client_id', foreignKeyConstraintName: 'interactions_client_id_fkey' })
  client?: ClientEntity;
  @ManyToOne(() => ResourceServerEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'resource_id', foreignKeyConstraintName: 'interactions_resource_id_fkey' })
  resourceServer?: ResourceServerEntity;
  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'interactions_user_id_fkey' })
  user?: UserEntity;
}
