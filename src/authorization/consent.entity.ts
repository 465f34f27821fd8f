import { Column, Entity, PrimaryColumn } from 'typeorm';

@Entity('consents')
export class ConsentEntity {
  @PrimaryColumn('uuid', { name: 'user_id' }) userId!: string;
  @PrimaryColumn('text', { name: 'client_id' }) clientId!: string;
  @PrimaryColumn('uuid', { name: 'resource_id' }) resourceId!: string;
  @Column('text', { array: true }) scopes!: string[];
  @Column('timestamptz', { name: 'granted_at' }) grantedAt!: Date;
}
