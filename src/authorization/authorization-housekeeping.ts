import { Injectable } from '@nestjs/common';
import { deleteInBatches, PeriodicJob } from '../database/housekeeping.js';
import { AuthorizationCodeRepository } from './authorization-code.repository.js';
import { InteractionRepository } from './interaction.repository.js';

const EVERY_MS = 5 * 60_000;
/** Expired interactions are kept an hour (for support questions), then deleted. */
const INTERACTION_GRACE_MS = 3600_000;
/** Codes are kept 31 days past expiry: beyond the longest refresh-token family a replay could still revoke. */
const CODE_GRACE_MS = 31 * 24 * 3600_000;

/**
 * /authorize is open to anyone, and each request leaves an interaction row; codes accumulate too. Both are
 * deleted in batches once they are of no further use.
 */
@Injectable()
export class AuthorizationHousekeeping extends PeriodicJob {
  constructor(
    private readonly interactions: InteractionRepository,
    private readonly codes: AuthorizationCodeRepository,
  ) {
    super(EVERY_MS);
  }

  protected async run(): Promise<void> {
    const now = Date.now();
    const interactions = await deleteInBatches((limit) => this.interactions.deleteExpired(new Date(now - INTERACTION_GRACE_MS), limit));
    const codes = await deleteInBatches((limit) => this.codes.deleteExpired(new Date(now - CODE_GRACE_MS), limit));
    if (interactions || codes) this.logger.log({ msg: 'housekeeping', interactions_deleted: interactions, codes_deleted: codes });
  }
}
