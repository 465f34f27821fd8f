import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';

/** A Gatehouse subject: `id` is the stable `sub` of every token issued for this person. */
@Entity('users')
export class UserEntity {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column('text', { name: 'display_name', nullable: true }) displayName!: string | null;
  @Column('timestamptz', { name: 'created_at', default: () => 'now()' }) createdAt!: Date;
  /** Set while an administrator has disabled the user: no sign-in, no tokens, no refresh. */
  @Column('timestamptz', { name: 'disabled_at', nullable: true }) disabledAt!: Date | null;
}

/** How a person signed in: (`github`, GitHub's numeric id), (`oidc:<provider id>`, the `sub`) → user. */
@Entity('user_identities')
@Index('user_identities_user', ['userId'])
export class UserIdentityEntity {
  @PrimaryColumn('text') provider!: string;
  @PrimaryColumn('text') subject!: string;
  @Column('uuid', { name: 'user_id' }) userId!: string;
  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'user_identities_user_id_fkey' })
  user?: UserEntity;
  @Column('text', { nullable: true }) login!: string | null;
  /** What the provider said at the last sign-in through this identity (see SignedInIdentity). */
  @Column('text', { nullable: true }) name!: string | null;
  @Column('text', { nullable: true }) email!: string | null;
  @Column('boolean', { name: 'email_verified', default: false }) emailVerified!: boolean;
  @Column('text', { array: true, default: () => "'{}'" }) groups!: string[];
  @Column('timestamptz', { name: 'created_at', default: () => 'now()' }) createdAt!: Date;
  @Column('timestamptz', { name: 'updated_at', default: () => 'now()' }) updatedAt!: Date;
}
