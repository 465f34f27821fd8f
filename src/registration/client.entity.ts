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
  @Column('timestamptz', { name: 'last_used_at', nullable: true }) lastUsedAt!: Date | null;
  /** metadata_document only: until when the recorded document may be used without fetching it again. */
  @Column('timestamptz', { name: 'metadata_expires_at', nullable: true }) metadataExpiresAt!: Date | null;
}
