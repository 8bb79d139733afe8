/**
 * Picks the database for this process (DESIGN.md §2): PostgreSQL when `DATABASE_URL` is set, otherwise the
 * embedded PGlite database in `AIRLOCK_DATA_DIR` (default `./.airlock`). Migrations are the caller's next step
 * (`migrate`), so read-only commands such as `airlock audit verify` never change the schema.
 */
import { resolve } from 'node:path';

import { nonBlank } from '../util/non-blank.js';
import type { Db } from './db.js';
import { openPgliteDb } from './pglite-db.js';
import { PostgresDb } from './postgres-db.js';

export const DEFAULT_DATA_DIR = '.airlock';

export interface CreateDbOptions {
  /** The config file's `database` section; the environment overrides it. */
  database?: { url?: string; dataDir?: string };
  env?: Readonly<Record<string, string | undefined>>;
}

export type StorageTarget = { kind: 'postgres'; connectionString: string } | { kind: 'pglite'; dataDir: string };

/** Environment first, then config, then the default directory (relative to the working directory). */
export function resolveStorageTarget(options: CreateDbOptions = {}): StorageTarget {
  const env = options.env ?? process.env;
  const connectionString = nonBlank(env.DATABASE_URL) ?? nonBlank(options.database?.url);
  if (connectionString) return { kind: 'postgres', connectionString };
  return { kind: 'pglite', dataDir: resolve(nonBlank(env.AIRLOCK_DATA_DIR) ?? nonBlank(options.database?.dataDir) ?? DEFAULT_DATA_DIR) };
}

/**
 * Opens the database and checks that it answers, so an unreachable server fails here with STORAGE_UNAVAILABLE
 * (naming the host, never the password) rather than on the first call an agent makes.
 */
export async function createDb(options: CreateDbOptions = {}): Promise<Db> {
  const target = resolveStorageTarget(options);
  if (target.kind === 'pglite') return openPgliteDb(target.dataDir);
  const db = new PostgresDb({ connectionString: target.connectionString });
  try {
    await db.query('SELECT 1');
    return db;
  } catch (error) {
    await db.close();
    throw error;
  }
}
