/**
 * Outbox-style enqueueing: a job that must follow a database change (post the approval request to Slack, expire
 * it at its deadline) is written as an `outbox` row in the transaction that makes the change, so it commits or
 * rolls back with it. An OutboxRelay then hands committed rows to the JobQueue and marks them done. A process
 * that dies between the commit and the hand-over leaves its rows undone, and the next pass delivers them: at
 * start-up, after the next commit this instance reports, or on the retry that follows a failed pass.
 *
 * Delivery is at least once. Rows are claimed with FOR UPDATE SKIP LOCKED, so instances relaying at the same
 * time hand each row over once; but a pass that dies after enqueueing and before committing its `done` marks
 * leaves those rows to be handed over again. The job key (the row's `job_key`, else `outbox:<id>`) makes that a
 * no-op while the first job is still pending; a job that had already finished runs again, as any job may
 * (handlers are idempotent). With the in-process queue a handed-over job still dies with the process, as the
 * in-process queue says: its users catch up from their own tables on start.
 */
import type { Db } from '../db/db.js';
import { AirlockError } from '../errors/airlock-error.js';
import type { Logger } from '../log/logger.js';
import type { EnqueueOptions, JobQueue } from './job-queue.js';
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

export interface OutboxRelayOptions {
  db: Db;
  queue: JobQueue;
  /** How hard to try, per job kind: a row says what to run and when, its kind how often to retry it. */
  jobOptions?: Readonly<Record<string, Pick<EnqueueOptions, 'attempts' | 'backoff'>>> | undefined;
  logger?: Pick<Logger, 'warn' | 'error'> | undefined;
  /** Rows claimed per transaction. Default 100. */
  batchSize?: number | undefined;
  /** After a pass that could not hand every row over (Redis or the database away), the next runs this long after. */
  retryMs?: number | undefined;
  /** Arms that retry; tests pass a ManualScheduler. */
  scheduler?: Scheduler | undefined;
}

interface OutboxRow {
  id: number;
  kind: string;
  job_key: string | null;
  payload: unknown;
  run_at: Date;
}

export class OutboxRelay {
  readonly #options: OutboxRelayOptions;
  readonly #scheduler: Scheduler;
  #current: Promise<number> | undefined;
  #next: Promise<number> | undefined;
  #cancelRetry: (() => void) | undefined;
  #closed = false;

  constructor(options: OutboxRelayOptions) {
    this.#options = options;
    this.#scheduler = options.scheduler ?? systemScheduler;
  }

  /**
   * Hands every undone row to the queue; resolves with how many it handed over, or rejects when the database
   * failed (a retry is scheduled either way). A call while a pass runs gets the pass after it: the running one
   * may have read the table before the caller's commit.
   */
  relay(): Promise<number> {
    if (this.#closed) return Promise.resolve(0);
    if (!this.#current) {
      this.#current = this.#pass().finally(() => {
        this.#current = undefined;
      });
      return this.#current;
    }
    const settle = () => {
      this.#next = undefined;
      return this.relay();
    };
    this.#next ??= this.#current.then(settle, settle);
    return this.#next;
  }

  /** For after a commit that wrote outbox rows: relays in the background and reports failures through the logger. */
  wake(): void {
    this.relay().catch((err: unknown) => this.#options.logger?.error({ err }, 'outbox relay failed; will retry'));
  }

  /** Stops relaying and waits for the pass under way; call it before closing the queue. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#cancelRetry?.();
    await Promise.allSettled([this.#current, this.#next]);
  }

  async #pass(): Promise<number> {
    const batchSize = this.#options.batchSize ?? 100;
    let handed = 0;
    try {
      for (;;) {
        const batch = await this.#options.db.transaction((tx) => this.#batch(tx, batchSize));
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
  async #batch(tx: Db, limit: number): Promise<{ claimed: number; handed: number; failed: boolean }> {
    const rows = await tx.query<OutboxRow>(
      `SELECT id, kind, job_key, payload, run_at FROM outbox
       WHERE NOT done ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
      [limit],
    );
    let handed = 0;
    for (const row of rows) {
      const key = row.job_key ?? `outbox:${row.id}`;
      try {
        await this.#options.queue.enqueue(row.kind, row.payload, {
          ...this.#options.jobOptions?.[row.kind],
          key,
          runAt: row.run_at.getTime(),
        });
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
