/**
 * `airlock migrate [--config C]`: applies pending migrations to the database `airlock serve` uses with the same
 * config file and environment, and prints one line per file. Exit codes: 0 up to date, 1 a migration failed or
 * the database does not match the files, 2 wrong command line or database unreachable.
 */
import { asAirlockError } from '../errors/airlock-error.js';
import type { Db } from '../db/db.js';
import { migrate } from '../db/migrate.js';
import { type CliIo, CONFIG_OPTION, DATABASE_USAGE, openCommandDb, parseCommandLine } from './command.js';


export interface MigrateCommandDeps {
  /** Opens the database; the command closes it. Defaults to openCommandDb() (--config and the environment). */
  openDb?: () => Promise<Db>;
  /** Folder of the migration files; defaults to the installation's. */
  migrationsDir?: string;
}

const USAGE = `usage: airlock migrate [--config airlock.config.json]
  Applies pending migrations. Safe to run from several processes at once.
${DATABASE_USAGE}`;

export async function runMigrateCommand(argv: string[], io: CliIo, deps: MigrateCommandDeps = {}): Promise<number> {
  let config: string | undefined;
  try {
    const { values } = parseCommandLine(argv, { help: { type: 'boolean', short: 'h' }, ...CONFIG_OPTION });
    if (values.help) {
      io.stdout(USAGE);
      return 0;
    }
    config = values.config;
  } catch (error) {
    io.stderr(`airlock migrate: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }

  let db: Db;
  try {
    db = await (deps.openDb ?? (() => openCommandDb({ config })))();
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
