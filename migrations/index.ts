import type { MigrationInterface } from 'typeorm';
import { InitialSchema1795312800000 } from './1795312800000-InitialSchema.js';

/** Every migration, oldest first. The runner applies the ones a database has not seen, in this order. */
export const MIGRATIONS: ReadonlyArray<new () => MigrationInterface> = [InitialSchema1795312800000];
