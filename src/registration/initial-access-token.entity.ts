import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * An initial access token (RFC 7591 §3): an administrator hands it to whoever may register clients when
 * DCR_REQUIRE_INITIAL_ACCESS_TOKEN is on. Stored as the SHA-256 of the token; the token itself is shown once.
 */
@Entity('initial_access_tokens')
export class InitialAccessTokenEntity {
  @PrimaryColumn('uuid') id!: string;
  @Column('text', { name: 'token_hash' }) tokenHash!: string;
  @Column('text', { nullable: true }) description!: string | null;
  /** How many registrations it allows; null: no limit. */
  @Column('integer', { name: 'max_registrations', nullable: true }) maxRegistrations!: number | null;
  /** How many registrations it has made. */
  @Column('integer') registrations!: number;
  @Column('timestamptz', { name: 'expires_at', nullable: true }) expiresAt!: Date | null;
  @Column('timestamptz', { name: 'created_at' }) createdAt!: Date;
  @Column('timestamptz', { name: 'revoked_at', nullable: true }) revokedAt!: Date | null;
}
