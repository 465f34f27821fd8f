import { Column, Entity, PrimaryColumn } from 'typeorm';

@Entity('authorization_codes')
export class AuthorizationCodeEntity {
  @PrimaryColumn('text', { name: 'code_hash' }) codeHash!: string;
  @Column('text', { name: 'client_id' }) clientId!: string;
  @Column('uuid', { name: 'user_id' }) userId!: string;
  @Column('uuid', { name: 'resource_id' }) resourceId!: string;
  @Column('text', { array: true }) scopes!: string[];
  @Column('text', { name: 'redirect_uri' }) redirectUri!: string;
  @Column('text', { name: 'code_challenge' }) codeChallenge!: string;
  @Column('timestamptz', { name: 'created_at' }) createdAt!: Date;
  @Column('timestamptz', { name: 'expires_at' }) expiresAt!: Date;
  @Column('timestamptz', { name: 'consumed_at', nullable: true }) consumedAt!: Date | null;
  /** The grant the code was exchanged for; revoked if the code is ever presented again. */
  @Column('uuid', { name: 'grant_id', nullable: true }) grantId!: string | null;
}
