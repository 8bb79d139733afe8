/**
 * Outbox-style enqueueing: a job that must follow a database change (post the approval request to Slack, expire
 * it at its deadline) is written as an `outbox` row in the transaction that makes the change, so it commits or
 * rolls back with it. An OutboxRelay then hands committed rows to the JobQueue and marks them done. A process
 * that dies between the commit and the hand-over leaves its rows undone, and a later pass, its successor's or
 * another instance's, delivers them.
 *
 * Delivery is at least once. Rows are claimed with FOR UPDATE SKIP LOCKED, so instances relaying at the same
 * time hand each row over once; but a pass that dies after enqueueing and before committing its `done` marks
 * leaves those rows to be handed over again. The job key (the row's `job_key`, else `outbox:<id>`) makes that a
 * no-op while the first job is still pending; a job that had already finished runs again, as any job may
 * (handlers are idempotent). With the in-process queue a handed-over job still dies with the process, as the
 * in-process queue says: its users catch up from their own tables on start.
 *
 * When a pass runs: woken after a commit that wrote rows (deferred to a later turn of the event loop, so the work
 * the commit released, such as a waiting call's claim, reaches the database first: PGlite runs one statement at
 * a time), at start (rows a dead process left), after a failed pass, and on a periodic sweep, because another
 * instance may die with undone rows while this one has nothing to commit.
 */
import type { Db } from '../db/db.js';
import { AirlockError } from '../errors/airlock-error.js';
import type { Logger } from '../log/logger.js';
import type { JobQueue, RetryOptions } from './job-queue.js';
import { type Scheduler, systemScheduler } from './scheduler.js';

export interface OutboxJob<P = unknown> {
  kind: string;
  /**
   * The job's key (JobQueue rule 4) and the row's: while an undone row holds it, writing it again adds nothing;
   * once the row is done, writing it again re-arms the row, as enqueueing a key again does once it is free.
   */
  key?: string | undefined;
  payload: P;
  /** Epoch milliseconds; absent means at once. */
  runAt?: number | undefined;
}

/**
 * Writes `job` in the caller's transaction `tx`; after the commit, wake the relay. Answers false when an undone
 * row already holds the key.
 */
export async function writeOutbox<P>(tx: Db, job: OutboxJob<P>): Promise<boolean> {
  const json = JSON.stringify(job.payload);
  if (json === undefined) throw new AirlockError('INTERNAL', `outbox job "${job.kind}": the payload is not JSON`);
  const rows = await tx.query(
    `INSERT INTO outbox (kind, job_key, payload, run_at)
     VALUES ($1, $2, $3::jsonb, COALESCE($4::timestamptz, now()))
     ON CONFLICT (job_key) DO UPDATE
       SET kind = EXCLUDED.kind, payload = EXCLUDED.payload, run_at = EXCLUDED.run_at, attempts = 0,
           last_error = NULL, done = false, done_at = NULL, created_at = EXCLUDED.created_at
       WHERE outbox.done
     RETURNING id`,
    [job.kind, job.key ?? null, json, job.runAt === undefined ? null : new Date(job.runAt).toISOString()],
  );
  return rows.length > 0;
}

const DEFAULT_RETRY_MS = 5000;
const DEFAULT_SWEEP_MS = 5000;
/** Done rows are kept a day for whoever investigates a delivery, then deleted; the check runs hourly. */
const KEEP_DONE = '1 day';
const PRUNE_EVERY_MS = 3_600_000;

export interface OutboxRelayOptions {
  db: Db;
  queue: JobQueue;
  /**
   * The kinds this relay hands over, each with how hard the queue tries it (a row says what to run and when, its
   * kind how often to retry it); `accept` adds more. Rows of other kinds wait for a relay that knows them, as a due
   * job waits for a handler: handed over by a relay that did not know their retries, they would run once.
   */
  kinds?: Readonly<Record<string, RetryOptions>> | undefined;
  logger?: Pick<Logger, 'warn' | 'error'> | undefined;
  /** Rows claimed per transaction. Default 100. */
  batchSize?: number | undefined;
  /** After a pass that could not hand every row over (Redis or the database away), the next runs this long after. */
  retryMs?: number | undefined;
  /**
   * How often `start` sweeps (default 5 s). A sweep takes only rows at least this old: a fresh row is its writer's
   * to hand over, and is another's only once its writer has had the time to (it died, or its Redis is away).
   */
  sweepMs?: number | undefined;
  /** Arms the retries and sweeps; tests pass a ManualScheduler. */
  scheduler?: Scheduler | undefined;
}

interface OutboxRow {
  id: number;
  kind: string;
  job_key: string | null;
  payload: unknown;
  /** Null once due: the job then runs at the queue's own now, not at a time on the database's clock. */
  run_at: Date | null;
}

export class OutboxRelay {
  readonly #options: OutboxRelayOptions;
  readonly #scheduler: Scheduler;
  readonly #sweepMs: number;
  readonly #kinds: Map<string, RetryOptions>;
  #current: Promise<number> | undefined;
  #next: Promise<number> | undefined;
  #cancelRetry: (() => void) | undefined;
  #cancelSweep: (() => void) | undefined;
  #prunedAt = Number.NEGATIVE_INFINITY;
  #closed = false;

  constructor(options: OutboxRelayOptions) {
    this.#options = options;
    this.#scheduler = options.scheduler ?? systemScheduler;
    this.#sweepMs = options.sweepMs ?? DEFAULT_SWEEP_MS;
    this.#kinds = new Map(Object.entries(options.kinds ?? {}));
  }

  /** Hands over these kinds too, from now on: rows of them may be waiting already, so a pass follows. */
  accept(kinds: Readonly<Record<string, RetryOptions>>): void {
    for (const [kind, retry] of Object.entries(kinds)) this.#kinds.set(kind, retry);
    this.wake();
  }

  /** Relays what is already there (rows a dead process left), then sweeps every `sweepMs` until closed. */
  start(): void {
    if (this.#closed || this.#cancelSweep) return;
    this.wake();
    const arm = () => {
      this.#cancelSweep = this.#scheduler.setTimer(this.#scheduler.now() + this.#sweepMs, () => {
        this.#sweep();
        arm();
      });
    };
    arm();
  }

  /**
   * Hands every undone row of a known kind to the queue; resolves with how many it handed over, or rejects when
   * the database failed (a retry is scheduled either way). A call while a pass runs gets the pass after it: the
   * running one may have read the table before the caller's commit.
   */
  relay(): Promise<number> {
    if (this.#closed) return Promise.resolve(0);
    if (!this.#current) return this.#run(() => this.#pass(0));
    const settle = () => {
      this.#next = undefined;
      return this.relay();
    };
    this.#next ??= this.#current.then(settle, settle);
    return this.#next;
  }

  /** For after a commit that wrote outbox rows: relays on a later turn of the event loop, reporting failures. */
  wake(): void {
    setImmediate(() => this.relay().catch((err: unknown) => this.#options.logger?.error({ err }, 'outbox relay failed; will retry')));
  }

  /** Stops relaying and waits for the pass under way; call it before closing the queue. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#cancelRetry?.();
    this.#cancelSweep?.();
    await Promise.allSettled([this.#current, this.#next]);
  }

  #run(pass: () => Promise<number>): Promise<number> {
    this.#current = pass().finally(() => {
      this.#current = undefined;
    });
    return this.#current;
  }

  /** A pass under way or coming covers what a sweep would; otherwise the sweep takes the rows left too long. */
  #sweep(): void {
    if (this.#closed || this.#current || this.#next) return;
    this.#run(async () => {
      const handed = await this.#pass(this.#sweepMs);
      if (this.#scheduler.now() - this.#prunedAt >= PRUNE_EVERY_MS) {
        this.#prunedAt = this.#scheduler.now();
        await this.#options.db.query(`DELETE FROM outbox WHERE done AND done_at < now() - interval '${KEEP_DONE}'`);
      }
      return handed;
    }).catch((err: unknown) => this.#options.logger?.error({ err }, 'outbox sweep failed; will retry'));
  }

  async #pass(minAgeMs: number): Promise<number> {
    const batchSize = this.#options.batchSize ?? 100;
    let handed = 0;
    try {
      for (;;) {
        const batch = await this.#options.db.transaction((tx) => this.#batch(tx, batchSize, minAgeMs));
        handed += batch.handed;
        if (batch.failed) {
          this.#retryLater();
          return handed;
        }
        if (batch.claimed < batchSize) return handed;
      }
    } catch (error) {
      this.#retryLater();
      throw error;
    }
  }

  /** Claims up to `limit` undone rows and hands them over in order; stops at the first the queue refuses. */
  async #batch(tx: Db, limit: number, minAgeMs: number): Promise<{ claimed: number; handed: number; failed: boolean }> {
    // A full pass takes every row, whenever its writer's transaction began (created_at is that time, not the commit's).
    const old = minAgeMs > 0 ? `AND created_at <= now() - $3::integer * interval '1 millisecond'` : '';
    const rows = await tx.query<OutboxRow>(
      `SELECT id, kind, job_key, payload, CASE WHEN run_at > now() THEN run_at END AS run_at FROM outbox
       WHERE NOT done AND kind = ANY($2::text[]) ${old} ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
      minAgeMs > 0 ? [limit, [...this.#kinds.keys()], minAgeMs] : [limit, [...this.#kinds.keys()]],
    );
    let handed = 0;
    for (const row of rows) {
      const key = row.job_key ?? `outbox:${row.id}`;
      try {
        const runAt = row.run_at ? { runAt: row.run_at.getTime() } : {};
        await this.#options.queue.enqueue(row.kind, row.payload, { ...this.#kinds.get(row.kind), key, ...runAt });
      } catch (error) {
        this.#options.logger?.warn(
          { outboxId: row.id, kind: row.kind, key, err: error },
          'outbox: the job queue refused a job; will retry',
        );
        const message = error instanceof Error ? error.message : String(error);
        await tx.query(`UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1`, [row.id, message]);
        return { claimed: rows.length, handed, failed: true };
      }
      await tx.query(
        `UPDATE outbox SET done = true, done_at = now(), attempts = attempts + 1, last_error = NULL WHERE id = $1`,
        [row.id],
      );
      handed += 1;
    }
    return { claimed: rows.length, handed, failed: false };
  }

  #retryLater(): void {
    const retryMs = this.#options.retryMs ?? DEFAULT_RETRY_MS;
    if (this.#closed || this.#cancelRetry) return;
    this.#cancelRetry = this.#scheduler.setTimer(this.#scheduler.now() + retryMs, () => {
      this.#cancelRetry = undefined;
      this.wake();
    });
  }
}
