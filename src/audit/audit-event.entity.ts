import { Column, Entity, PrimaryColumn } from 'typeorm';

/** Event details: ids, names, flags and scope lists only. */
export type AuditEventData = Record<string, string | number | boolean | string[] | null>;

export type AuditActorKind = 'user' | 'client' | 'resource' | 'admin' | 'system';
export type AuditOutcome = 'success' | 'failure' | 'denied' | 'active' | 'inactive';

/** The outbox: written in the same transaction as the change it records. */
@Entity('audit_events')
export class AuditEventEntity {
  @PrimaryColumn({ type: 'bigint', insert: false }) seq!: string;
  @Column({ type: 'uuid', insert: false }) id!: string;
  @Column('smallint') schema!: number;
  @Column('text') type!: string;
  @Column({ type: 'timestamptz', name: 'occurred_at' }) occurredAt!: Date;
  @Column('text', { name: 'actor_kind' }) actorKind!: AuditActorKind;
  @Column('text', { name: 'actor_id', nullable: true }) actorId!: string | null;
  @Column('text', { name: 'client_id', nullable: true }) clientId!: string | null;
  @Column('text', { nullable: true }) subject!: string | null;
  @Column('text', { nullable: true }) resource!: string | null;
  @Column('text', { array: true, nullable: true }) scopes!: string[] | null;
  @Column('text', { nullable: true }) ip!: string | null;
  @Column('text', { name: 'user_agent', nullable: true }) userAgent!: string | null;
  @Column('text', { name: 'request_id', nullable: true }) requestId!: string | null;
  @Column('text') outcome!: AuditOutcome;
  @Column('jsonb') data!: AuditEventData;
}

