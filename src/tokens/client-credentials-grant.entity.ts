import { Check, Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, Unique } from 'typeorm';
import { ClientEntity } from '../registration/client.entity.js';
import { ResourceServerEntity } from '../resources/resource-server.entity.js';

/**
 * An administrator's permission for a confidential client to use the client credentials grant (RFC 6749 §4.4) for
 * one resource server, with the scopes it may get. Its id is the `grant_id` of the access tokens issued under it:
 * introspection finds them live only while it exists with that id.
 */
@Entity('client_credentials_grants')
@Unique('client_credentials_grants_client_id_resource_id_key', ['clientId', 'resourceId'])
@Check('client_credentials_grants_scopes_check', 'cardinality(scopes) > 0')
@Index('client_credentials_grants_resource', ['resourceId'])
export class ClientCredentialsGrantEntity {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column('text', { name: 'client_id' }) clientId!: string;
  @Column('uuid', { name: 'resource_id' }) resourceId!: string;
  @Column('text', { array: true }) scopes!: string[];
  @Column('timestamptz', { name: 'created_at', default: () => 'now()' }) createdAt!: Date;
  /** The administrator who allowed it: `api`, `cli`, or a console operator's user id (as the audit actor's id). */
  @Column('text', { name: 'created_by' }) createdBy!: string;
  @Column('timestamptz', { name: 'updated_at', default: () => 'now()' }) updatedAt!: Date;
  @ManyToOne(() => ClientEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'client_id', foreignKeyConstraintName: 'client_credentials_grants_client_id_fkey' })
  client?: ClientEntity;
  @ManyToOne(() => ResourceServerEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'resource_id', foreignKeyConstraintName: 'client_credentials_grants_resource_id_fkey' })
  resourceServer?: ResourceServerEntity;
}
