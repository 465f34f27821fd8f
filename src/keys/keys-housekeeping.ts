import { Inject, Injectable } from '@nestjs/common';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../config/config.js';
import { PeriodicJob } from '../database/housekeeping.js';
import { KeyService } from './key.service.js';

/**
 * Scheduled rotation (KEY_ROTATION_DAYS; 0 rotates only when an operator does): every quarter of an hour, the active
 * key is rotated once it has signed for that long. The key it promotes has been published as `next` since the last
 * rotation, so resource servers already hold it. Every instance checks; the key lock makes one of them rotate.
 */
@Injectable()
export class KeysHousekeeping extends PeriodicJob {
  constructor(
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    private readonly keys: KeyService,
  ) {
    super(15 * 60_000);
  }

  protected async run(): Promise<void> {
    if (this.config.keyRotationMs <= 0) return;
    const rotation = await this.keys.rotateIfOlderThan(this.config.keyRotationMs);
    if (rotation) this.logger.log({ msg: 'signing keys rotated on schedule', ...rotation });
  }
}
