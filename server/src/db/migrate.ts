/**
 * Applies the numbered SQL files in `migrations/` that this database has not seen yet, in order, one
 * transaction each, and records each with a checksum in `schema_migrations`. Never throws for a migration
 * problem: the caller gets one result per file and the first error (kysely's MigrationResultSet), so
 * `airlock migrate` can print exactly what happened.
 *
 * Several processes may start at once against one PostgreSQL: every step takes a transaction-scoped advisory
 * lock and re-reads the applied set under it, so each file is applied exactly once. On PGlite the same lock is
 * uncontended (one connection), so there is no separate code path.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { AirlockError, asAirlockError } from '../errors/airlock-error.js';
import type { Db } from './db.js';

/** Arbitrary but fixed: every Airlock process must lock the same key ("AIRMIGR" in ASCII, as a bigint). */
const MIGRATION_LOCK_KEY = '18376491318986578';

const FILE_NAME = /^(\d{4})_[a-z0-9_]+\.sql$/;

const MIGRATION_STATUSES = ['applied', 'unchanged', 'error', 'not_executed'] as const;
export type MigrationStatus = (typeof MIGRATION_STATUSES)[number];

export interface MigrationFile {
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrationResult {
  name: string;
  status: MigrationStatus;
  message?: string;
}

export interface MigrationResultSet {
  results: MigrationResult[];
  /** Set when any migration failed or the applied set does not match the files; nothing after it ran. */
  error?: AirlockError;
}

/** The repository's `migrations/` folder, found upwards from this module (source checkout and `dist/` alike). */
export function defaultMigrationsDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'migrations');
    if (existsSync(join(dir, 'package.json')) && existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new AirlockError('INTERNAL', 'Cannot find the migrations folder of this installation');
    dir = parent;
  }
}

// Line endings are normalized so a Windows checkout (autocrlf) does not look like an edited migration.
function checksumOf(sql: string): string {
  return createHash('sha256').update(sql.replace(/\r\n/g, '\n')).digest('hex');
}

/** Reads and orders the migration files; a `.sql` file that breaks the naming scheme is an error, not skipped. */
export async function loadMigrations(dir: string = defaultMigrationsDir()): Promise<MigrationFile[]> {
  const names = (await readdir(dir)).filter((name) => name.endsWith('.sql')).sort();
  const seen = new Map<string, string>();
  for (const name of names) {
    const number = FILE_NAME.exec(name)?.[1];
    if (number === undefined) {
      throw new AirlockError('INTERNAL', `Migration file ${name} must be named NNNN_lowercase_name.sql`);
    }
    const clash = seen.get(number);
    if (clash) throw new AirlockError('INTERNAL', `Migrations ${clash} and ${name} share the number ${number}`);
    seen.set(number, name);
  }
  return Promise.all(
    names.map(async (name) => {
      const sql = await readFile(join(dir, name), 'utf8');
      return { name, sql, checksum: checksumOf(sql) };
    }),
  );
}

interface AppliedRow {
  name: string;
  checksum: string;
}

async function lockAndReadApplied(tx: Db): Promise<Map<string, string>> {
  await tx.query(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`);
  await tx.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    name       text PRIMARY KEY,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
  )`);
  const rows = await tx.query<AppliedRow>('SELECT name, checksum FROM schema_migrations');
  return new Map(rows.map((row) => [row.name, row.checksum]));
}

interface Mismatch {
  name: string;
  message: string;
}

/** What makes running any migration unsafe: an applied file that changed, or one that vanished. */
function mismatches(files: readonly MigrationFile[], applied: ReadonlyMap<string, string>): Mismatch[] {
  const byName = new Map(files.map((file) => [file.name, file]));
  const found: Mismatch[] = [];
  for (const [name, checksum] of applied) {
    const file = byName.get(name);
    if (!file) {
      found.push({ name, message: `${name} was applied to this database but its file is missing (an older Airlock?)` });
    } else if (file.checksum !== checksum) {
      found.push({
        name,
        message:
          `${name} was changed after it was applied (applied checksum ${checksum.slice(0, 12)}…, file now ` +
          `${file.checksum.slice(0, 12)}…): restore the released file and put changes in a new migration`,
      });
    }
  }
  return found;
}

export interface MigrateOptions {
  /** Folder of the `.sql` files; defaults to the installation's `migrations/`. */
  dir?: string;
}

export async function migrate(db: Db, options: MigrateOptions = {}): Promise<MigrationResultSet> {
  let files: MigrationFile[];
  let applied: Map<string, string>;
  try {
    files = await loadMigrations(options.dir);
    applied = await db.transaction(lockAndReadApplied);
  } catch (error) {
    return { results: [], error: asAirlockError(error) };
  }

  const problems = mismatches(files, applied);
  if (problems.length > 0) {
    const problemOf = new Map(problems.map((problem) => [problem.name, problem.message]));
    const names = [...new Set([...files.map((file) => file.name), ...problemOf.keys()])].sort();
    return {
      results: names.map((name): MigrationResult => {
        const message = problemOf.get(name);
        if (message !== undefined) return { name, status: 'error', message };
        return { name, status: applied.has(name) ? 'unchanged' : 'not_executed' };
      }),
      error: new AirlockError('CONFLICT', 'The database does not match the migration files; nothing was applied', {
        details: problems.map((problem) => problem.message),
      }),
    };
  }

  const results: MigrationResult[] = [];
  let failure: AirlockError | undefined;
  for (const file of files) {
    if (failure) {
      results.push({ name: file.name, status: 'not_executed' });
      continue;
    }
    try {
      const status = await db.transaction(async (tx) => {
        // Re-read under the lock: another process may have applied it since we looked.
        const now = await lockAndReadApplied(tx);
        if (now.has(file.name)) return 'unchanged' as const;
        await tx.exec(file.sql);
        await tx.query('INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)', [file.name, file.checksum]);
        return 'applied' as const;
      });
      results.push({ name: file.name, status });
    } catch (error) {
      const cause = asAirlockError(error);
      failure = new AirlockError(cause.code, `Migration ${file.name} failed: ${cause.message}`, { cause: error });
      results.push({ name: file.name, status: 'error', message: failure.message });
    }
  }
  return failure ? { results, error: failure } : { results };
}
