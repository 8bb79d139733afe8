/** Turns the limits a call exceeded into the one denial both stores return, so they report it the same way. */
import { AirlockError } from '../errors/airlock-error.js';
import type { LimitCheck, LimitRequest } from './limit-store.js';

export interface Violation {
  readonly request: LimitRequest;
  /** When this limit alone would fit the call; `Infinity` if it never can. */
  readonly retryAfterMs: number;
}

/**
 * The call fits once every exceeded limit fits, so the wait is the longest one. The limit named is a `deny` one if
 * any (a deny must not be softened into an approval by another limit), then the one with the longest wait.
 */
export function denial(violations: readonly Violation[]): LimitCheck & { allowed: false } {
  let blocking: Violation | undefined;
  let retryAfterMs = 0;
  for (const violation of violations) {
    retryAfterMs = Math.max(retryAfterMs, violation.retryAfterMs);
    if (!blocking || outranks(violation, blocking)) blocking = violation;
  }
  if (!blocking) throw new AirlockError('INTERNAL', 'A limit denial needs at least one exceeded limit');
  return { allowed: false, exceeded: blocking.request, retryAfterMs };
}

function outranks(a: Violation, b: Violation): boolean {
  const aDenies = a.request.onExceed === 'deny';
  if (aDenies !== (b.request.onExceed === 'deny')) return aDenies;
  return a.retryAfterMs > b.retryAfterMs;
}
