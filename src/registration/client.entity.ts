import { Check, Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { InitialAccessTokenEntity } from './initial-access-token.entity.js';
import type { ClientMetadata } from './client-metadata.js';

export type ClientKind = 'dynamic' | 'static' | 'metadata_document';

@Entity('clients')
@Check('clients_kind_check', "kind IN ('dynamic', 'static', 'metadata_document')")
@Check('clients_secret_expiry_needs_secret', 'secret_expires_at IS NULL OR secret_hash IS NOT NULL')
@Check('clients_metadata_document_shape', "kind <> 'metadata_document' OR (secret_hash IS NULL AND registration_token_hash IS NULL AND metadata_expires_at IS NOT NULL)")
// Partial indexes for the expiry jobs and re-registration: the where clauses are the migrations'.
@Index('clients_dynamic_use', ['lastUsedAt', 'createdAt'], { where: "kind = 'dynamic'" })
@Index('clients_dynamic_fingerprint', ['metadataFingerprint'], { where: "kind = 'dynamic' AND metadata_fingerprint IS NOT NULL" })
@Index('clients_initial_access_token', ['initialAccessTokenId'], { where: 'initial_access_token_id IS NOT NULL' })
// clients_metadata_document_use, on (coalesce(last_used_at, created_at)), is an expression index: TypeORM neither
// reads nor writes those, so it is declared in its migration only.
export class ClientEntity {
  @PrimaryColumn('text') id!: string;
  /**
   * `dynamic`: registered through POST /register; `static`: pre-registered by an administrator;
   * `metadata_document`: the id is an https URL and the row records the last valid document fetched from it
   * (a cache, replaced on every fetch; never a registration: no secret, no registration access token).
   */
  @Column('text') kind!: ClientKind;
  @Column('jsonb') metadata!: ClientMetadata;
  @Column('text', { name: 'secret_hash', nullable: true }) secretHash!: string | null;
  /** When the secret stops being accepted (dynamic clients with DCR_CLIENT_SECRET_DAYS); null: never. */
  @Column('timestamptz', { name: 'secret_expires_at', nullable: true }) secretExpiresAt!: Date | null;
  @Column('text', { name: 'registration_token_hash', nullable: true }) registrationTokenHash!: string | null;
  @Column('timestamptz', { name: 'created_at', default: () => 'now()' }) createdAt!: Date;
  @Column('timestamptz', { name: 'updated_at', default: () => 'now()' }) updatedAt!: Date;
  /**
   * When the client last used Gatehouse (an accepted /authorize, a token issued to it); recorded at most about once
   * per CLIENT_USE_RESOLUTION_MS, so it may lag the true last use by that much. Null: never used.
   */
  @Column('timestamptz', { name: 'last_used_at', nullable: true }) lastUsedAt!: Date | null;
  /** metadata_document only: until when the recorded document may be used without fetching it again. */
  @Column('timestamptz', { name: 'metadata_expires_at', nullable: true }) metadataExpiresAt!: Date | null;
  /** dynamic only: SHA-256 of the canonical JSON of the validated metadata (see metadataFingerprint). */
  @Column('text', { name: 'metadata_fingerprint', nullable: true }) metadataFingerprint!: string | null;
  /** dynamic only: the initial access token presented at registration, if any (RFC 7591 §3). */
  @Column('uuid', { name: 'initial_access_token_id', nullable: true }) initialAccessTokenId!: string | null;
  @ManyToOne(() => InitialAccessTokenEntity, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'initial_access_token_id', foreignKeyConstraintName: 'clients_initial_access_token_id_fkey' })
  initialAccessToken?: InitialAccessTokenEntity;
}
