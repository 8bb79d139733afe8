/**
 * Throwaway databases for storage tests, one per call, on every dialect: PGlite in a fresh temporary directory,
 * PostgreSQL in a fresh schema of the test database (dropped afterwards). Tests loop over TEST_DIALECTS so the
 * same assertions run on both (kysely's DIALECTS).
 *
 * AIRLOCK_TEST_DIALECTS=pglite narrows the set; TEST_DATABASE_URL (else DATABASE_URL, else the loopback server
 * of the project's machines) names the PostgreSQL database whose schemas tests may create and drop.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { DIALECTS, type Db, type Dialect } from '../../server/src/db/db.js';
import { migrate } from '../../server/src/db/migrate.js';
import { openPgliteDb } from '../../server/src/db/pglite-db.js';
import { PostgresDb } from '../../server/src/db/postgres-db.js';

export const TEST_DATABASE_URL =
  process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export const TEST_DIALECTS: readonly Dialect[] = (() => {
  const wanted = process.env.AIRLOCK_TEST_DIALECTS?.split(',').map((name) => name.trim());
  return wanted ? DIALECTS.filter((dialect) => wanted.includes(dialect)) : DIALECTS;
})();

export interface TestDatabase {
  readonly dialect: Dialect;
  readonly db: Db;
  /** PGlite: the data directory. PostgreSQL: the schema. */
  readonly location: string;
  /** Another, independent connection to the same data (PostgreSQL only: PGlite is one process, one handle). */
  connectAgain(): Promise<Db>;
  /** Closes every handle and deletes the data. */
  destroy(): Promise<void>;
}

export interface TestDatabaseOptions {
  /** Apply the repository's migrations first (default true). */
  migrated?: boolean;
}

export async function createTestDatabase(dialect: Dialect, options: TestDatabaseOptions = {}): Promise<TestDatabase> {
  const database = dialect === 'pglite' ? await createPglite() : await createPostgres();
  if (options.migrated ?? true) {
    const { error } = await migrate(database.db);
    if (error) {
      await database.destroy();
      throw error;
    }
  }
  return database;
}

async function createPglite(): Promise<TestDatabase> {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-test-'));
  const db = await openPgliteDb(dir);
  return {
    dialect: 'pglite',
    db,
    location: dir,
    connectAgain: () => Promise.reject(new Error('PGlite has a single handle per data directory')),
    async destroy() {
      await db.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function createPostgres(): Promise<TestDatabase> {
  const schema = `airlock_test_${randomBytes(6).toString('hex')}`;
  const admin = new PostgresDb({ connectionString: TEST_DATABASE_URL, maxConnections: 1 });
  await admin.exec(`CREATE SCHEMA ${schema}`);
  const handles: Db[] = [];
  const connect = async () => {
    const db = new PostgresDb({ connectionString: TEST_DATABASE_URL, searchPath: schema });
    handles.push(db);
    return db;
  };
  return {
    dialect: 'postgres',
    db: await connect(),
    location: schema,
    connectAgain: connect,
    async destroy() {
      await Promise.all(handles.map((db) => db.close()));
      await admin.exec(`DROP SCHEMA ${schema} CASCADE`);
      await admin.close();
    },
  };
}

/** A handle on `db` whose close() leaves it open: for code under test that closes what it opened. */
export function borrowDb(db: Db, onClose: () => void = () => {}): Db {
  return {
    dialect: db.dialect,
    query: <T>(sql: string, params?: readonly unknown[]) => db.query<T>(sql, params),
    exec: (sql) => db.exec(sql),
    transaction: (fn) => db.transaction(fn),
    close: async () => onClose(),
  };
}
