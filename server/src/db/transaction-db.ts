/**
 * The `tx` handed to `Db.transaction` callbacks, shared by both drivers: it runs statements on the one connection
 * that holds the transaction, nests further transactions as savepoints, and refuses use after its transaction
 * ended (on PostgreSQL the connection is back in the pool by then, serving someone else).
 */
import { AirlockError } from '../errors/airlock-error.js';
import type { Db, Dialect, Row } from './db.js';

/** The two operations a driver's in-transaction connection offers; errors are already mapped. */
export interface TransactionConnection {
  query(sql: string, params?: readonly unknown[]): Promise<Row[]>;
  exec(sql: string): Promise<void>;
}

export class TransactionDb implements Db {
  readonly dialect: Dialect;
  readonly #connection: TransactionConnection;
  readonly #depth: number;
  #ended = false;

  constructor(dialect: Dialect, connection: TransactionConnection, depth = 0) {
    this.dialect = dialect;
    this.#connection = connection;
    this.#depth = depth;
  }

  async query<T = Row>(sql: string, params?: readonly unknown[]): Promise<T[]> {
    this.#assertOpen();
    return (await this.#connection.query(sql, params)) as T[];
  }

  async exec(sql: string): Promise<void> {
    this.#assertOpen();
    await this.#connection.exec(sql);
  }

  async transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    this.#assertOpen();
    const savepoint = `airlock_sp_${this.#depth + 1}`;
    const nested = new TransactionDb(this.dialect, this.#connection, this.#depth + 1);
    await this.#connection.exec(`SAVEPOINT ${savepoint}`);
    try {
      const result = await fn(nested);
      await this.#connection.exec(`RELEASE SAVEPOINT ${savepoint}`);
      return result;
    } catch (error) {
      await this.#connection.exec(`ROLLBACK TO SAVEPOINT ${savepoint}`);
      throw error;
    } finally {
      nested.end();
    }
  }

  close(): Promise<void> {
    return Promise.reject(new AirlockError('INTERNAL', 'A transaction handle cannot be closed; close the Db instead'));
  }

  /** Called by the owner of the transaction once it committed or rolled back. */
  end(): void {
    this.#ended = true;
  }

  #assertOpen(): void {
    if (this.#ended) throw new AirlockError('INTERNAL', 'This transaction has already ended; use the Db, not a stale tx');
  }
}
