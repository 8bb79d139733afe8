/**
 * Background jobs — Slack delivery with retries, approval expiry — behind one small interface, with an in-process
 * implementation for the embedded mode and BullMQ for the scaled one (DESIGN.md §2). Both pass
 * `test/contract/job-queue.contract.ts`; the rules below are what that suite checks.
 *
 * A job is `(kind, payload)`. Handlers are registered per kind; payloads are plain JSON because a durable queue
 * stores them. A queue never interprets a payload.
 *
 * Implementations MUST:
 * 1. Run a job once `runAt` has been reached (at once when it is absent or past) and a handler for its kind is
 *    registered; a due job whose kind has no handler yet waits for one.
 * 2. Hand the handler a copy of the payload as JSON would carry it, never the enqueuer's object.
 * 3. Count every start of the handler as one attempt (`job.attempt`, 1-based). A job succeeds when its handler
 *    resolves. When it throws and attempts remain, the next attempt starts no earlier than the backoff delay
 *    after the failure: `backoff.delayMs` (fixed) or `delayMs·2^(failures−1)` (exponential), at most
 *    `backoff.maxDelayMs`. A `RetryAfter` error replaces that delay with its own `delayMs` (a server said when
 *    to come back). A `PermanentFailure` error ends the job at once. A job out of attempts is dropped and
 *    reported (logged), never retried.
 * 4. Keep at most one job per `key`: while a job with that key waits, is delayed (between attempts too) or runs,
 *    `enqueue` with the same key adds nothing and answers `{ added: false, id }` with the existing job's id.
 *    Once that job has succeeded or been dropped, the key is free again.
 * 5. `remove(key)` cancels a job that waits or is delayed (including one waiting for its next attempt) and
 *    answers true; it never interrupts a running handler (it answers false then), nor an unknown key.
 * 6. `close()` stops starting jobs and resolves once the running handlers have finished; `enqueue` after it
 *    rejects. A durable queue keeps the jobs that had not run; the in-process one drops them.
 */

export interface Backoff {
  type: 'fixed' | 'exponential';
  /** The delay after the first failure (fixed: after every failure). */
  delayMs: number;
  /** Caps exponential growth. */
  maxDelayMs?: number;
}

export interface EnqueueOptions {
  /** Deduplication key: at most one job per key is pending or running (rule 4). BullMQ's jobId. */
  key?: string;
  /** Epoch milliseconds on the queue's clock; absent means now. */
  runAt?: number;
  /** Total attempts, the first included. Default 1: no retry unless asked. */
  attempts?: number;
  /** Default: exponential from 1 s. */
  backoff?: Backoff;
}

/** How hard the queue tries one kind of job; the kind's owner knows, whoever enqueues it. */
export type RetryOptions = Pick<EnqueueOptions, 'attempts' | 'backoff'>;

export interface Job<P = unknown> {
  readonly id: string;
  readonly kind: string;
  readonly key: string | undefined;
  readonly payload: P;
  /** 1 for the first run. */
  readonly attempt: number;
  readonly attempts: number;
}

export type JobHandler<P = unknown> = (job: Job<P>) => Promise<void>;

export interface EnqueueResult {
  id: string;
  /** False when a job with the same key was already pending or running (rule 4). */
  added: boolean;
}

export interface JobQueue {
  /** Registers the one handler for `kind`; registering a second throws. */
  handle<P>(kind: string, handler: JobHandler<P>): void;
  enqueue<P>(kind: string, payload: P, options?: EnqueueOptions): Promise<EnqueueResult>;
  remove(key: string): Promise<boolean>;
  /** Jobs not finished yet — waiting, delayed or running — for the queue-depth metric. */
  depth(): Promise<number>;
  close(): Promise<void>;
}

/** Thrown by a handler to say when to try again (Slack's `Retry-After`); the attempt still counts. */
export class RetryAfter extends Error {
  constructor(
    readonly delayMs: number,
    options?: ErrorOptions,
  ) {
    super(`retry after ${delayMs} ms`, options);
    this.name = 'RetryAfter';
  }
}

/** Thrown by a handler when trying again cannot help (a deleted channel, a revoked token). */
export class PermanentFailure extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PermanentFailure';
  }
}

export const DEFAULT_BACKOFF: Backoff = { type: 'exponential', delayMs: 1000 };

/** The wait before the next attempt after `failures` failed ones (rule 3). */
export function backoffDelay(backoff: Backoff, failures: number): number {
  const delay = backoff.type === 'fixed' ? backoff.delayMs : backoff.delayMs * 2 ** Math.max(0, failures - 1);
  return Math.min(delay, backoff.maxDelayMs ?? Number.POSITIVE_INFINITY);
}
