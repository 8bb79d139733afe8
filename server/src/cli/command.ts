/** What every `airlock` command shares: where it writes, how a bad command line is told apart, its database. */
import { parseArgs, type ParseArgsConfig } from 'node:util';

import { loadConfigFile } from '../config/load.js';
import { createDb, resolveStorageTarget } from '../db/create-db.js';
import type { Db } from '../db/db.js';
import { pgliteDbExists } from '../db/pglite-db.js';
import { AirlockError } from '../errors/airlock-error.js';

/** Results go to stdout, problems to stderr (under `airlock run`, stdout is the protocol's alone). */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

/** A command line the command cannot understand: printed with its usage, exit status 2. */
export class UsageError extends Error {}

/** `--config <file>`, for the commands that open the database: they find it as `airlock serve --config <file>` does. */
export const CONFIG_OPTION = { config: { type: 'string' } } as const;

/** How the commands with CONFIG_OPTION find the database, for their usage texts. */
export const DATABASE_USAGE = `  The database is the one serve uses with that config file: its database section, overridden by DATABASE_URL
  (PostgreSQL) or AIRLOCK_DATA_DIR (embedded); without --config, those variables or ./.airlock.`;

export interface DbChoice {
  /** The config file (--config) whose `database` section names the database; the environment overrides it. */
  config?: string | undefined;
  /** Read-only commands: an embedded database that does not exist is an error, not created empty. */
  existing?: boolean;
}

/** Opens the database `serve` would use with the same config file and environment (the environment's alone without one). */
export async function openCommandDb({ config, existing = false }: DbChoice): Promise<Db> {
  const options = { database: config === undefined ? undefined : (await loadConfigFile(config)).database };
  const target = resolveStorageTarget(options);
  if (existing && target.kind === 'pglite' && !(await pgliteDbExists(target.dataDir))) {
    throw new AirlockError(
      'NOT_FOUND',
      `no Airlock database exists at ${target.dataDir}; point at the gateway's with --config <its config file>, ` +
        'AIRLOCK_DATA_DIR=<its data directory> or DATABASE_URL=<its PostgreSQL URL>',
    );
  }
  return createDb(options);
}

/** Runs `fn` on a database opened for this one command (openCommandDb unless a test gives one), then closes it. */
export async function withDb<T>(openDb: (() => Promise<Db>) | undefined, choice: DbChoice, fn: (db: Db) => Promise<T>): Promise<T> {
  const db = await (openDb ?? (() => openCommandDb(choice)))();
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

/** `parseArgs`, strict: what it refuses is a UsageError. */
export function parseCommandLine<const O extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: O, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/**
 * `airlock <command> <subcommand> …`: `help` prints the usage; a missing or unknown subcommand, or a UsageError
 * from one, prints the problem with the usage (exit 2); any other failure is one line, with the exit status
 * `failure` gives it.
 */
export async function runSubcommands(
  command: string,
  usage: string,
  argv: string[],
  io: CliIo,
  subcommands: Readonly<Record<string, (args: string[]) => Promise<number>>>,
  failure: (error: unknown) => { message: string; exitCode: number },
): Promise<number> {
  const [subcommand, ...rest] = argv;
  try {
    if (subcommand === 'help' || subcommand === '-h' || subcommand === '--help') {
      io.stdout(usage);
      return 0;
    }
    if (subcommand === undefined || !Object.hasOwn(subcommands, subcommand)) {
      throw new UsageError(subcommand === undefined ? 'missing subcommand' : `unknown subcommand "${subcommand}"`);
    }
    return await subcommands[subcommand]!(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`airlock ${command}: ${error.message}\n${usage}`);
      return 2;
    }
    const { message, exitCode } = failure(error);
    io.stderr(`airlock ${command}: ${message}`);
    return exitCode;
  }
}

/** A stdio command (`run`, `connect`) stops when the agent closes our stdin, or on SIGINT or SIGTERM. */
export function stopOnStdioEnd(stop: () => Promise<void>): void {
  process.stdin.once('end', () => void stop());
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}
