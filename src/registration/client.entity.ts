import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { ClientMetadata } from './client-metadata.js';

export type ClientKind = 'dynamic' | 'static' | 'metadata_document';

@Entity('clients')
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
  @Column('text', { name: 'registration_token_hash', nullable: true }) registrationTokenHash!: string | null;
  @Column('timestamptz', { name: 'created_at' }) createdAt!: Date;
  @Column('timestamptz', { name: 'updated_at' }) updatedAt!: Date;
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
}
