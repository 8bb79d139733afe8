/**
 * The messages between `PgliteWorkerDb` (main thread) and `pglite-worker.js` (the worker thread that owns the
 * PGlite instance). Types only, plus turning an error that crossed the thread boundary back into an `Error`: the
 * structured clone keeps a thrown error's message but drops the fields callers rely on (`code` above all), so the
 * worker sends them as plain data.
 */
import type { Row } from './db.js';

/** Id 0 is the worker's start-up report: `ok` once PGlite is open, or why it could not open. */
export const STARTUP_REPLY_ID = 0;

/**
 * One request per `Db` call. `tx` names an open transaction: statements with it run inside that transaction,
 * statements without it queue behind every open transaction (PGlite has one connection).
 */
export type WorkerRequest =
  | { id: number; op: 'query'; sql: string; params: readonly unknown[] | undefined; tx: number | undefined }
  | { id: number; op: 'exec'; sql: string; tx: number | undefined }
  | { id: number; op: 'begin' | 'commit' | 'rollback'; tx: number }
  | { id: number; op: 'close' };

export type WorkerReply = { id: number; ok: true; rows?: Row[] } | { id: number; ok: false; error: SerializedError };

/** An error as the worker saw it: its own enumerable fields (`code`, `severity`, `detail`, …) kept as data. */
export interface SerializedError {
  name: string;
  message: string;
  fields: Record<string, unknown>;
}

/**
 * Rebuilds the driver's error on the main thread: an `Error` with the same message and fields, so `sqlState()`,
 * `toStorageError()` and callers branching on `code` see what they saw in-thread. Called from the awaiting `Db`
 * method, so the stack shows the caller rather than the message handler.
 */
export function toError(serialized: SerializedError): Error {
  const error = new Error(serialized.message);
  Object.assign(error, serialized.fields);
  if (!Object.hasOwn(serialized.fields, 'name')) error.name = serialized.name;
  return error;
}
