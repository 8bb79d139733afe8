/**
 * Tells "this statement failed" (kept as the driver's error, so callers can branch on its SQLSTATE) from "the
 * database cannot be reached" (an AirlockError STORAGE_UNAVAILABLE naming the target), for both drivers.
 */
import { AirlockError } from '../errors/airlock-error.js';

const SQLSTATE = /^[0-9A-Z]{5}$/;

// SQLSTATEs that mean the server is there but will not serve us: connection exceptions (class 08), shutdown or
// start-up (57P0x), too many connections, authentication (class 28) and a database that does not exist.
const UNAVAILABLE_SQLSTATES = /^(08...|57P0[1-3]|53300|28...|3D000)$/;

export function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && SQLSTATE.test(code) ? code : undefined;
}

/**
 * Returns the error to rethrow for a driver failure on `target` (a description without credentials, such as
 * `PostgreSQL at 127.0.0.1:5432/airlock`). Errors without a SQLSTATE come from the socket or the driver itself
 * (refused, reset, pool closed, PGlite closed), so they mean the database is unavailable too.
 */
export function toStorageError(error: unknown, target: string): unknown {
  if (error instanceof AirlockError) return error;
  const state = sqlState(error);
  if (state !== undefined && !UNAVAILABLE_SQLSTATES.test(state)) return error;
  // Node reports a refused dual-stack connect as an AggregateError with an empty message and only a code.
  const reason = (error instanceof Error && error.message) || (error as { code?: string }).code || String(error);
  return new AirlockError('STORAGE_UNAVAILABLE', `${target} is unavailable: ${reason}`, { cause: error });
}
