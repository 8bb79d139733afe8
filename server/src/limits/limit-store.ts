/**
 * The rate-limit store contract. This module owns the semantics every store implements (memory for one process,
 * Redis for many) and that `test/contract/limit-store.contract.ts` checks; it does not know how a key is built:
 * the policy engine's LimitRequest already carries the counter name and scope value in `key`, so limits with the
 * same counter and scope share one count. Choices that are not obvious are explained in `./README.md`.
 */
import type { LimitRequest } from '../policy/evaluate.js';

export type { LimitRequest };

export type LimitCheck =
  | { allowed: true; reservation: string /* opaque; give it back to `refund` */ }
  | {
      allowed: false;
      /** The limit that blocks the call; a `deny` limit is named before a `require_approval` one. */
      exceeded: LimitRequest;
      /**
       * Time until enough admitted weight has left the window for every exceeded limit to fit this call, if
       * nothing else is admitted meanwhile. `Infinity` when the call's cost is larger than a limit's `max`.
       */
      retryAfterMs: number;
    };

/**
 * A store of admitted calls per key. Semantics, for every key K and every request R on K:
 *
 * - Admission: a call MUST be admitted iff for every request R, (weight admitted on R.key in the window
 *   (now − R.windowMs, now]) + (the call's weight on R.key) ≤ R.max. An entry admitted at time t counts until,
 *   not including, t + windowMs. This is an exact sliding log: no fixed windows, no token-bucket burst.
 * - One count per key: the call is recorded once per distinct key, with weight = the largest `cost` among its
 *   requests on that key. Requests on one key with different windows or maxima are each checked against that one
 *   log. A weight of 0 is checked but not recorded.
 * - None or all: if any request does not fit, nothing MUST be recorded. Check and record MUST be atomic against
 *   every concurrent caller of every instance sharing the store.
 * - `refund` MUST remove exactly what the reservation recorded that is still in a window, and MUST be idempotent.
 *   It only accepts reservations returned by `consume` of a store over the same data.
 * - Requests with an empty key, a non-positive window, or a negative or non-finite max or cost MUST be rejected
 *   with an `AirlockError` (`INTERNAL`): they are bugs of the caller, never a decision.
 * - A store that cannot reach its data MUST reject with `AirlockError('LIMITER_UNAVAILABLE')` within a bounded
 *   time, never hang; whether to fail open or closed is the caller's decision.
 */
export interface LimitStore {
  /** Checks every request and, only if all fit, records all of them: none or all, atomic. */
  consume(requests: readonly LimitRequest[], opts?: { callId?: string }): Promise<LimitCheck>;
  /** Gives back what a reservation recorded (the call's upstream failed). Idempotent. */
  refund(reservation: string): Promise<void>;
  close(): Promise<void>;
}
