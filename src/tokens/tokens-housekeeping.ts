import { Injectable } from '@nestjs/common';
import { deleteInBatches, PeriodicJob } from '../database/housekeeping.js';
import { RefreshTokenRepository } from './grant.repository.js';
import { TokenStatusRepository } from './token-status.repository.js';
import { DpopProofJtiRepository } from './dpop-proof-jti.repository.js';

/**
 * Expired refresh tokens are deleted a day after expiry, and revoked jtis once their token has expired, in batches;
 * and DPoP proof jtis once their window has closed; grants stay as the record of what was authorized.
 */
@Injectable()
export class TokensHousekeeping extends PeriodicJob {
  constructor(
    private readonly refreshTokens: RefreshTokenRepository,
    private readonly status: TokenStatusRepository,
    private readonly dpopJtis: DpopProofJtiRepository,
  ) {
    super(15 * 60_000);
  }

  protected async run(): Promise<void> {
    const deleted = await deleteInBatches((limit) => this.refreshTokens.deleteExpired(new Date(Date.now() - 24 * 3600_000), limit));
    // A revoked jti matters only until the token expires; then the signature check alone rejects it.
    const revocations = await deleteInBatches((limit) => this.status.deleteExpiredRevocations(new Date(), limit));
    // A DPoP proof's jti matters only while its iat window is open.
    const proofs = await deleteInBatches((limit) => this.dpopJtis.deleteExpired(new Date(), limit));
    if (deleted || revocations || proofs) this.logger.log({ msg: 'housekeeping', refresh_tokens_deleted: deleted, revocations_deleted: revocations, dpop_proof_jtis_deleted: proofs });
  }
}
