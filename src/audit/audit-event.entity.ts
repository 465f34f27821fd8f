import { Column, Entity, PrimaryColumn } from 'typeorm';

/** Event details: ids, names, flags and scope lists only. */
export type AuditEventData = Record<string, string | number | boolean | string[] | null>;

/** The outbox: written in the same transaction as the change it records. */
@Entity('audit_events')
export class AuditEventEntity {
  @PrimaryColumn({ type: 'bigint', insert: false }) seq!: string;
  @Column({ type: 'uuid', insert: false }) id!: string;
  @Column('text') type!: string;
  @Column({ type: 'timestamptz', name: 'occurred_at', insert: false }) occurredAt!: Date;
  @Column('text', { name: 'client_id', nullable: true }) clientId!: string | null;
  @Column('text', { nullable: true }) subject!: string | null;
  @Column('text', { nullable: true }) resource!: string | null;
  @Column('text', { name: 'request_id', nullable: true }) requestId!: string | null;
  @Column('jsonb') data!: AuditEventData;
}
