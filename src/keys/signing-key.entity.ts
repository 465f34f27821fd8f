import { Column, Entity, PrimaryColumn } from 'typeorm';

export type SigningKeyState = 'next' | 'active' | 'retired';

/** The public half of a P-256 key as a JWK. */
export interface EcPublicJwk {
  kty: string;
  crv: string;
  x: string;
  y: string;
}

@Entity('signing_keys')
export class SigningKeyEntity {
  @PrimaryColumn('text') kid!: string;
  @Column('text') alg!: string;
  @Column('text') state!: SigningKeyState;
  @Column('jsonb', { name: 'public_jwk' }) publicJwk!: EcPublicJwk;
  /** PKCS#8 PEM sealed with AES-256-GCM under ENCRYPTION_KEY, with the kid as additional data. */
  @Column('text', { name: 'private_key_sealed' }) privateKeySealed!: string;
  @Column('timestamptz', { name: 'created_at' }) createdAt!: Date;
  @Column('timestamptz', { name: 'activated_at', nullable: true }) activatedAt!: Date | null;
  @Column('timestamptz', { name: 'retired_at', nullable: true }) retiredAt!: Date | null;
}
