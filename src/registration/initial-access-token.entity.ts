import { Check, Column, Entity, PrimaryGeneratedColumn, Unique } from 'typeorm';

/**
 * An initial access token (RFC 7591 §3): an administrator hands it to whoever may register clients when
 * DCR_REQUIRE_INITIAL_ACCESS_TOKEN is on. Stored as the SHA-256 of the token; the token itself is shown once.
 */
@Entity('initial_access_tokens')
@Unique('initial_access_tokens_token_hash_key', ['tokenHash'])
@Check('initial_access_tokens_max_registrations_check', 'max_registrations IS NULL OR max_registrations > 0')
@Check('initial_access_tokens_registrations_check', 'registrations >= 0')
@Check('initial_access_tokens_within_max', 'max_registrations IS NULL OR registrations <= max_registrations')
export class InitialAccessTokenEntity {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column('text', { name: 'token_hash' }) tokenHash!: string;
  @Column('text', { nullable: true }) description!: string | null;
  /** How many registrations it allows; null: no limit. */
  @Column('integer', { name: 'max_registrations', nullable: true }) maxRegistrations!: number | null;
  /** How many registrations it has made. */
  @Column('integer', { default: 0 }) registrations!: number;
  @Column('timestamptz', { name: 'expires_at', nullable: true }) expiresAt!: Date | null;
  @Column('timestamptz', { name: 'created_at', default: () => 'now()' }) createdAt!: Date;
  @Column('timestamptz', { name: 'revoked_at', nullable: true }) revokedAt!: Date | null;
}
