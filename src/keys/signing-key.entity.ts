import { Check, Column, Entity, Index, PrimaryColumn } from 'typeorm';
import type { SigningAlg } from '../config/config.js';
import type { PublicKeyJwk } from './signing-algorithms.js';

export type SigningKeyState = 'next' | 'active' | 'retired';

@Entity('signing_keys')
@Check('signing_keys_state_check', "state IN ('next', 'active', 'retired')")
// One active key and one next key at most.
@Index('signing_keys_one_active', ['state'], { unique: true, where: "state = 'active'" })
@Index('signing_keys_one_next', ['state'], { unique: true, where: "state = 'next'" })
export class SigningKeyEntity {
  @PrimaryColumn('text') kid!: string;
  /** The JWS algorithm this key signs with (SIGNING_ALG when it was made): published as its JWK's `alg`. */
  @Column('text') alg!: SigningAlg;
  @Column('text') state!: SigningKeyState;
  @Column('jsonb', { name: 'public_jwk' }) publicJwk!: PublicKeyJwk;
  /** PKCS#8 PEM sealed with AES-256-GCM under ENCRYPTION_KEY, with the kid as additional data. */
  @Column('text', { name: 'private_key_sealed' }) privateKeySealed!: string;
  @Column('timestamptz', { name: 'created_at', default: () => 'now()' }) createdAt!: Date;
  @Column('timestamptz', { name: 'activated_at', nullable: true }) activatedAt!: Date | null;
  @Column('timestamptz', { name: 'retired_at', nullable: true }) retiredAt!: Date | null;
}
