/**
 * The storage seam. Everything that touches the database (migrations, audit log, approvals, grants, console users)
 * goes through `Db`, which has two implementations: `PgliteDb` (embedded, one process) and `PostgresDb` (scaled,
 * several gateway processes). Both run the same SQL and pass `test/contract/db.contract.ts`.
 *
 * This file owns the contract only; connection handling, pooling and the data-dir lock live in the implementations.
 */

export const DIALECTS = ['pglite', 'postgres'] as const;
export type Dialect = (typeof DIALECTS)[number];

/** One row as the driver returns it; callers narrow it with their own row type. */
export type Row = Record<string, unknown>;

/**
 * Contract (every implementation MUST):
 * - `query` runs exactly one statement with `$1…$n` parameters and resolves to its rows. `int8` columns come back
 *   as JS numbers (sequence numbers and counts stay far below 2^53), `timestamptz` as `Date`, `jsonb` parsed.
 *   Pass jsonb parameters as `JSON.stringify(value)` with an explicit `$n::jsonb` cast: the two drivers infer
 *   parameter types differently, a string with a cast means the same thing to both.
 * - `exec` runs a script of several statements without parameters (migrations). It may not be atomic on its own:
 *   wrap it in `transaction` when it must be.
 * - `transaction` runs `fn` on one connection between BEGIN and COMMIT, and rolls back and rethrows whatever `fn`
 *   threw. `tx.transaction` nests through a SAVEPOINT. The `tx` handle is only valid until `fn` settles.
 *   Inside `fn`, use `tx` only: PGlite has a single connection, so a statement on the outer `Db` waits for the
 *   transaction to end, and the transaction waits for it.
 * - A failing statement rejects with the driver's error, which carries the SQLSTATE in `code` (`23505` unique
 *   violation, …) so callers can branch on it. When the database cannot be reached at all (refused, closed,
 *   authentication or missing database), it rejects with `AirlockError('STORAGE_UNAVAILABLE')` naming the target.
 * - `close` waits for nothing queued after it; using a closed `Db` rejects with STORAGE_UNAVAILABLE.
 */
export interface Db {
  readonly dialect: Dialect;
  query<T = Row>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  exec(sql: string): Promise<void>;
  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
