/**
 * `Db` on a real PostgreSQL server through a `pg` pool: the scaled mode, where several gateway processes share
 * one database. Owns the pool and its error mapping; knows nothing about Airlock's tables.
 */
import pg from 'pg';
import type { PoolClient } from 'pg';

import { AirlockError } from '../errors/airlock-error.js';
import type { Db, Row } from './db.js';
import { toStorageError } from './storage-error.js';
import { TransactionDb } from './transaction-db.js';

export interface PostgresDbOptions {
  /** `postgres://user:password@host:port/database`; the password never appears in messages. */
  connectionString: string;
  /** Schema to use instead of `public` (tests isolate themselves this way). */
  searchPath?: string;
  maxConnections?: number;
  /** How long to wait for a connection before reporting the database unavailable. */
  connectTimeoutMs?: number;
  /** Errors of idle pooled connections (server restart, network drop); the pool replaces them by itself. */
  onIdleConnectionError?: (error: Error) => void;
}

const INT8_OID = 20;
const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

// pg returns int8 as a string to avoid precision loss; PGlite returns a number. Sequence numbers and counts stay
// far below 2^53, so both drivers return numbers and callers need no per-dialect parsing.
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
};

/** `PostgreSQL at host:port/database`, for messages: credentials stay out of logs and terminals. */
export function describePostgresTarget(connectionString: string): string {
  try {
    const url = new URL(connectionString);
    return `PostgreSQL at ${url.host || 'localhost'}${url.pathname || ''}`;
  } catch {
    return 'PostgreSQL (DATABASE_URL is not a valid URL)';
  }
}

export class PostgresDb implements Db {
  readonly dialect = 'postgres' as const;
  readonly #pool: pg.Pool;
  readonly #target: string;

  constructor(options: PostgresDbOptions) {
    if (options.searchPath !== undefined && !IDENTIFIER.test(options.searchPath)) {
      throw new AirlockError('CONFIG_INVALID', `Invalid PostgreSQL schema name: ${options.searchPath}`);
    }
    this.#target = describePostgresTarget(options.connectionString);
    this.#pool = new pg.Pool({
      connectionString: options.connectionString,
      max: options.maxConnections ?? 10,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
      types,
      ...(options.searchPath === undefined ? {} : { options: `-c search_path=${options.searchPath}` }),
    });
    // Without a listener an idle connection's error would crash the process; the pool already drops that client.
    this.#pool.on('error', options.onIdleConnectionError ?? (() => {}));
  }

  async query<T = Row>(sql: string, params?: readonly unknown[]): Promise<T[]> {
    try {
      const result = await this.#pool.query(sql, params as unknown[] | undefined);
      return result.rows as T[];
    } catch (error) {
      throw toStorageError(error, this.#target);
    }
  }

  async exec(sql: string): Promise<void> {
    try {
      // Without parameters pg uses the simple query protocol, which accepts several statements.
      await this.#pool.query(sql);
    } catch (error) {
      throw toStorageError(error, this.#target);
    }
  }

  async transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    const client = await this.#connect();
    // A checked-out client has no listener of the pool's: its connection dropping now (PostgreSQL restarting, the
    // network cut) would be an uncaught 'error' that ends the process. The statement in flight fails by itself.
    let broken: unknown;
    const onError = (error: Error) => (broken = error);
    client.on('error', onError);
    const tx = new TransactionDb('postgres', this.#connection(client));
    try {
      await tx.exec('BEGIN');
      const result = await fn(tx);
      await tx.exec('COMMIT');
      return result;
    } catch (error) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackError) {
        broken = rollbackError;
      }
      throw error;
    } finally {
      tx.end();
      client.off('error', onError);
      // A connection that dropped, or could not even roll back, is destroyed rather than handed to the next caller.
      client.release(broken instanceof Error ? broken : undefined);
    }
  }

  async close(): Promise<void> {
    if (!this.#pool.ending) await this.#pool.end();
  }

  async #connect(): Promise<PoolClient> {
    try {
      return await this.#pool.connect();
    } catch (error) {
      throw toStorageError(error, this.#target);
    }
  }

  #connection(client: PoolClient) {
    const target = this.#target;
    return {
      async query(sql: string, params?: readonly unknown[]): Promise<Row[]> {
        try {
          return (await client.query(sql, params as unknown[] | undefined)).rows as Row[];
        } catch (error) {
          throw toStorageError(error, target);
        }
      },
      async exec(sql: string): Promise<void> {
        try {
          await client.query(sql);
        } catch (error) {
          throw toStorageError(error, target);
        }
      },
    };
  }
}
