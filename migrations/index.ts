import type { MigrationInterface } from 'typeorm';
import { InitialSchema1795312800000 } from './1795312800000-InitialSchema.js';
import { RevokedAccessTokens1795316400000 } from './1795316400000-RevokedAccessTokens.js';

/** Every migration, oldest first. The runner applies the ones a database has not seen, in this order. */
export const MIGRATIONS: ReadonlyArray<new () => MigrationInterface> = [InitialSchema1795312800000, RevokedAccessTokens1795316400000];
