/**
 * `Db` on PGlite (PostgreSQL compiled to WASM) in a local directory: the embedded mode, one process, no server.
 * Owns the data-dir lock for as long as the database is open. PGlite has a single connection: statements and
 * transactions queue behind each other, so advisory locks are uncontended here and `FOR UPDATE` never waits.
 */
import { access } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { PGlite, type Transaction } from '@electric-sql/pglite';

import type { Db, Row } from './db.js';
import { acquireDataDirLock, type DataDirLock } from './data-dir-lock.js';
import { PgliteStatements } from './pglite-statements.js';
import { toStorageError } from './storage-error.js';
import { TransactionDb } from './transaction-db.js';

// The database files live one level down so the lock file and anything else Airlock keeps in the data directory
// never mix with PostgreSQL's own files.
const PGDATA = 'pgdata';

/** Whether `dataDir` holds an embedded database: a PostgreSQL data directory, which its PG_VERSION file marks. */
export async function pgliteDbExists(dataDir: string): Promise<boolean> {
  try {
    await access(join(resolve(dataDir), PGDATA, 'PG_VERSION'));
    return true;
  } catch {
    return false;
  }
}

/** Opens (creating on first use) the embedded database in `dataDir`, refusing if another process holds it. */
export async function openPgliteDb(dataDir: string): Promise<PgliteDb> {
  const dir = resolve(dataDir);
  const lock = await acquireDataDirLock(dir);
  const target = `Embedded database in ${dir}`;
  try {
    const pglite = await PGlite.create(join(dir, PGDATA));
    // A new 16 MB WAL segment is otherwise zero-filled first, 2,048 page writes through the WASM file layer that
    // stalled the event loop for ~40 ms every 16 MB of audit rows. PGlite runs with fsync off, so the zeros bought
    // no durability; without them only the segment's last byte is written.
    await pglite.exec('SET wal_init_zero = off');
    return new PgliteDb(pglite, lock, target);
  } catch (error) {
    await lock.release();
    throw toStorageError(error, target);
  }
}

export class PgliteDb implements Db {
  readonly dialect = 'pglite' as const;
  readonly #pglite: PGlite;
  readonly #lock: DataDirLock;
  readonly #target: string;
  readonly #statements: PgliteStatements;
  #closing: Promise<void> | undefined;

  constructor(pglite: PGlite, lock: DataDirLock, target: string) {
    this.#pglite = pglite;
    this.#lock = lock;
    this.#target = target;
    this.#statements = new PgliteStatements(pglite);
  }

  async query<T = Row>(sql: string, params?: readonly unknown[]): Promise<T[]> {
    const pglite = this.#pglite;
    try {
      if (!this.#statements.takes(sql, params)) return (await pglite.query<T>(sql, params as unknown[] | undefined)).rows;
      // The locks PGlite's own query() takes: no transaction open, and no other statement running.
      await pglite._checkReady();
      return (await pglite._runExclusiveTransaction(() => pglite._runExclusiveQuery(() => this.#statements.run(sql, params!, false)))) as T[];
    } catch (error) {
      throw toStorageError(error, this.#target);
    }
  }

  async exec(sql: string): Promise<void> {
    try {
      await this.#pglite.exec(sql);
    } catch (error) {
      throw toStorageError(error, this.#target);
    }
  }

  async transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    const target = this.#target;
    let fnError: { error: unknown } | undefined;
    try {
      return await this.#pglite.transaction(async (pgliteTx) => {
        const tx = new TransactionDb('pglite', connectionOf(this.#pglite, pgliteTx, this.#statements, target));
        try {
          return await fn(tx);
        } catch (error) {
          fnError = { error };
          throw error;
        } finally {
          tx.end();
        }
      });
    } catch (error) {
      // What the callback threw is the caller's own error and goes back untouched; the rest is the driver's.
      if (fnError && fnError.error === error) throw error;
      throw toStorageError(error, target);
    }
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      try {
        await this.#pglite.close();
      } finally {
        await this.#lock.release();
      }
    })();
    return this.#closing;
  }
}

function connectionOf(pglite: PGlite, tx: Transaction, statements: PgliteStatements, target: string) {
  return {
    async query(sql: string, params?: readonly unknown[]): Promise<Row[]> {
      try {
        if (!statements.takes(sql, params)) return (await tx.query<Row>(sql, params as unknown[] | undefined)).rows;
        // The transaction holds PGlite's transaction lock already; a statement still takes the query lock.
        return await pglite._runExclusiveQuery(() => statements.run(sql, params!, true));
      } catch (error) {
        throw toStorageError(error, target);
      }
    },
    async exec(sql: string): Promise<void> {
      try {
        await tx.exec(sql);
      } catch (error) {
        throw toStorageError(error, target);
      }
    },
  };
}
