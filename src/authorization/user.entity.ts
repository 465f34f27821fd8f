import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A Gatehouse subject: `id` is the stable `sub` of every token issued for this person. */
@Entity('users')
export class UserEntity {
  @PrimaryColumn('uuid') id!: string;
  @Column('text', { name: 'display_name', nullable: true }) displayName!: string | null;
  @Column('timestamptz', { name: 'created_at' }) createdAt!: Date;
}

/** How a person signed in: (`github`, GitHub's numeric id) → user. */
@Entity('user_identities')
export class UserIdentityEntity {
  @PrimaryColumn('text') provider!: string;
  @PrimaryColumn('text') subject!: string;
  @Column('uuid', { name: 'user_id' }) userId!: string;
  @Column('text', { nullable: true }) login!: string | null;
  @Column('timestamptz', { name: 'created_at' }) createdAt!: Date;
  @Column('timestamptz', { name: 'updated_at' }) updatedAt!: Date;
}
