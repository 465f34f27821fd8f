import { Check, Column, Entity, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { UserEntity } from '../authorization/user.entity.js';

export type OperatorRole = 'admin' | 'viewer';
export const OPERATOR_ROLES: readonly OperatorRole[] = ['admin', 'viewer'];

/** A user who may use the operator console: `admin` changes things, `viewer` sees everything and changes nothing. */
@Entity('console_operators')
@Check('console_operators_role_check', "role IN ('admin', 'viewer')")
export class ConsoleOperatorEntity {
  @PrimaryColumn('uuid', { name: 'user_id' }) userId!: string;
  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'console_operators_user_id_fkey' })
  user?: UserEntity;
  @Column('text') role!: OperatorRole;
  @Column('timestamptz', { name: 'granted_at', default: () => 'now()' }) grantedAt!: Date;
  /** Who granted it, as an audit actor reads: `api`, `cli`, `config` (CONSOLE_ADMINS), or an operator's user id. */
  @Column('text', { name: 'granted_by' }) grantedBy!: string;
}
