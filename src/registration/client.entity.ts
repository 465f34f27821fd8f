import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { ClientMetadata } from './client-metadata.js';

@Entity('clients')
export class ClientEntity {
  @PrimaryColumn('text') id!: string;
  /** `dynamic`: registered through POST /register; `static`: pre-registered by an administrator. */
  @Column('text') kind!: 'dynamic' | 'static';
  @Column('jsonb') metadata!: ClientMetadata;
  @Column('text', { name: 'secret_hash', nullable: true }) secretHash!: string | null;
  @Column('text', { name: 'registration_token_hash', nullable: true }) registrationTokenHash!: string | null;
  @Column('timestamptz', { name: 'created_at' }) createdAt!: Date;
  @Column('timestamptz', { name: 'updated_at' }) updatedAt!: Date;
  @Column('timestamptz', { name: 'last_used_at', nullable: true }) lastUsedAt!: Date | null;
}
