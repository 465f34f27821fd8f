import { Check, Column, Entity, Generated, Index, PrimaryGeneratedColumn, Unique } from 'typeorm';

/** Event details: ids, names, flags and scope lists only. */
export type AuditEventData = Record<string, string | number | boolean | string[] | null>;

export type AuditActorKind = 'user' | 'client' | 'resource' | 'admin' | 'system';
export type AuditOutcome = 'success' | 'failure' | 'denied' | 'active' | 'inactive';

/** The outbox: written in the same transaction as the change it records. */
@Entity('audit_events')
@Unique('audit_events_id_key', ['id'])
@Check('audit_events_actor_kind_check', "actor_kind IN ('user', 'client', 'resource', 'admin', 'system')")
@Check('audit_events_outcome_check', "outcome IN ('success', 'failure', 'denied', 'active', 'inactive')")
@Index('audit_events_type_time', ['type', 'occurredAt'])
@Index('audit_events_time', ['occurredAt'])
// The query API's filters by client and by subject, which most events lack.
@Index('audit_events_client_seq', ['clientId', 'seq'], { where: 'client_id IS NOT NULL' })
@Index('audit_events_subject_seq', ['subject', 'seq'], { where: 'subject IS NOT NULL' })
export class AuditEventEntity {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' }) seq!: string;
  @Column({ type: 'uuid', insert: false }) @Generated('uuid') id!: string;
  @Column('smallint', { default: 1 }) schema!: number;
  @Column('text') type!: string;
  @Column({ type: 'timestamptz', name: 'occurred_at', default: () => 'now()' }) occurredAt!: Date;
  @Column('text', { name: 'actor_kind', default: 'system' }) actorKind!: AuditActorKind;
  @Column('text', { name: 'actor_id', nullable: true }) actorId!: string | null;
  @Column('text', { name: 'client_id', nullable: true }) clientId!: string | null;
  @Column('text', { nullable: true }) subject!: string | null;
  @Column('text', { nullable: true }) resource!: string | null;
  @Column('text', { array: true, nullable: true }) scopes!: string[] | null;
  @Column('text', { nullable: true }) ip!: string | null;
  @Column('text', { name: 'user_agent', nullable: true }) userAgent!: string | null;
  @Column('text', { name: 'request_id', nullable: true }) requestId!: string | null;
  @Column('text', { default: 'success' }) outcome!: AuditOutcome;
  @Column('jsonb', { default: {} }) data!: AuditEventData;
}

