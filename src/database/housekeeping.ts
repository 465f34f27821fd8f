import { Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';

const BATCH = 1000;

/** Rows a raw DELETE removed: TypeORM returns node-postgres's [rows, count] for it, and PGlite's pool mirrors that. */
export function affected(result: unknown): number {
  return Array.isArray(result) && typeof result[1] === 'number' ? result[1] : 0;
}

/**
 * Deletes rows a predicate selects, BATCH at a time, so a large backlog never holds long locks.
 * `deleteBatch` deletes at most `limit` rows and returns how many it deleted.
 */
export async function deleteInBatches(deleteBatch: (limit: number) => Promise<number>): Promise<number> {
  let total = 0;
  for (;;) {
    const deleted = await deleteBatch(BATCH);
    total += deleted;
    if (deleted < BATCH) return total;
  }
}

/** A job that runs every `intervalMs` in the background (never keeping the process alive) until shutdown. */
export abstract class PeriodicJob implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | null = null;
  protected readonly logger = new Logger(this.constructor.name);

  protected constructor(private readonly intervalMs: number) {}

  protected abstract run(): Promise<void>;

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** Runs the job now unless a run is already under way. */
  async tick(): Promise<void> {
    if (this.running) return this.running;
    this.running = this.run()
      .catch((error: unknown) => this.logger.warn({ msg: 'housekeeping failed' }, error))
      .finally(() => {
        this.running = null;
      });
    return this.running;
  }
}
