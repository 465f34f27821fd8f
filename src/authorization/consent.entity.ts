import { Column, Entity, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { ClientEntity } from '../registration/client.entity.js';
import { ResourceServerEntity } from '../resources/resource-server.entity.js';
import { UserEntity } from './user.entity.js';

@Entity('consents')
export class ConsentEntity {
  @PrimaryColumn('uuid', { name: 'user_id' }) userId!: string;
  @PrimaryColumn('text', { name: 'client_id' }) clientId!: string;
  @PrimaryColumn('uuid', { name: 'resource_id' }) resourceId!: string;
  @Column('text', { array: true }) scopes!: string[];
  @Column('timestamptz', { name: 'granted_at', default: () => 'now()' }) grantedAt!: Date;
  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'consents_user_id_fkey' })
  user?: UserEntity;
  @ManyToOne(() => ClientEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'client_id', foreignKeyConstraintName: 'consents_client_id_fkey' })
  client?: ClientEntity;
  @ManyToOne(() => ResourceServerEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'resource_id', foreignKeyConstraintName: 'consents_resource_id_fkey' })
  resourceServer?: ResourceServerEntity;
}
