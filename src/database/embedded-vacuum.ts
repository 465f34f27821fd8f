import { PeriodicJob } from './housekeeping.js';
import { TableUpkeepRepository, upkeepOf } from './table-upkeep.repository.js';

/** autovacuum_naptime's default: how often autovacuum looks at each database. */
const NAPTIME_MS = 60_000;

/**
 * Autovacuum for the embedded database. PGlite is PostgreSQL as a single-user backend, which has no autovacuum:
 * left alone, no table would ever be vacuumed or analysed, deleted rows would keep their space, and transaction ids
 * would never be frozen. A single-user backend does not stop at the wraparound limit the way a server does, so after
 * about two billion writing transactions older rows would silently vanish from view. Every minute this applies
 * autovacuum's own rule (upkeepOf), with PostgreSQL's own settings, to every table, the catalog's included, one
 * table at a time; each VACUUM holds the one session while it runs, as any statement does.
 */
export class EmbeddedVacuum extends PeriodicJob {
  constructor(private readonly tables: TableUpkeepRepository) {
    super(NAPTIME_MS);
  }

  protected async run(): Promise<void> {
    const { settings, tables } = await this.tables.numbers();
    const started = process.hrtime.bigint();
    const done: Record<string, string> = {};
    for (const numbers of tables) {
      const command = upkeepOf(numbers, settings);
      if (command === null) continue;
      await this.tables.clean(numbers.table, command);
      done[numbers.table] = command;
    }
    if (Object.keys(done).length > 0) this.logger.log({ msg: 'embedded database vacuumed', tables: done, ms: Number(process.hrtime.bigint() - started) / 1e6 });
  }
}
