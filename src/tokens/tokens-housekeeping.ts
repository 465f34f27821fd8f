import { Injectable } from '@nestjs/common';
import { deleteInBatches, PeriodicJob } from '../database/housekeeping.js';
import { RefreshTokenRepository } from './grant.repository.js';

/** Expired refresh tokens are deleted a day after expiry, in batches; grants stay as the record of what was authorized. */
@Injectable()
export class TokensHousekeeping extends PeriodicJob {
  constructor(private readonly refreshTokens: RefreshTokenRepository) {
    super(15 * 60_000);
  }

  protected async run(): Promise<void> {
    const deleted = await deleteInBatches((limit) => this.refreshTokens.deleteExpired(new Date(Date.now() - 24 * 3600_000), limit));
    if (deleted) this.logger.log({ msg: 'housekeeping', refresh_tokens_deleted: deleted });
  }
}
