/**
 * `airlock migrate`: applies pending migrations to the database this process would use (DATABASE_URL, else the
 * embedded one in AIRLOCK_DATA_DIR) and prints one line per file. Exit codes: 0 up to date, 1 a migration
 * failed or the database does not match the files, 2 wrong command line or database unreachable.
 */
import { parseArgs } from 'node:util';

import { asAirlockError } from '../errors/airlock-error.js';
import { createDb } from '../db/create-db.js';
import type { Db } from '../db/db.js';
import { migrate } from '../db/migrate.js';
import type { CliIo } from './command.js';


export interface MigrateCommandDeps {
  /** Opens the database; the command closes it. Defaults to createDb() from the environment. */
  openDb?: () => Promise<Db>;
  /** Folder of the migration files; defaults to the installation's. */
  migrationsDir?: string;
}

const USAGE = `usage: airlock migrate
  Applies pending migrations to PostgreSQL (DATABASE_URL) or to the embedded database in AIRLOCK_DATA_DIR
  (default ./.airlock). Safe to run from several processes at once.`;

export async function runMigrateCommand(argv: string[], io: CliIo, deps: MigrateCommandDeps = {}): Promise<number> {
  try {
    const { values } = parseArgs({ args: argv, options: { help: { type: 'boolean', short: 'h' } }, allowPositionals: false });
    if (values.help) {
      io.stdout(USAGE);
      return 0;
    }
  } catch (error) {
    io.stderr(`airlock migrate: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }

  let db: Db;
  try {
    db = await (deps.openDb ?? (() => createDb()))();
  } catch (error) {
    io.stderr(`airlock migrate: ${asAirlockError(error).message}`);
    return 2;
  }
  try {
    const { results, error } = await migrate(db, deps.migrationsDir === undefined ? {} : { dir: deps.migrationsDir });
    for (const result of results) {
      io.stdout(`${result.status.padEnd(12)} ${result.name}${result.message ? `: ${result.message}` : ''}`);
    }
    if (error) {
      io.stderr(`airlock migrate: ${error.message}`);
      return 1;
    }
    const applied = results.filter((result) => result.status === 'applied').length;
    io.stdout(applied === 0 ? 'database is up to date' : `applied ${applied} migration${applied === 1 ? '' : 's'}`);
    return 0;
  } finally {
    await db.close();
  }
}
