/**
 * The in-process JobQueue of the embedded mode (one gateway process). Jobs live in memory: a restart drops the
 * ones not yet run, so whatever must survive one (an approval) is in the database, and its users re-enqueue
 * from there on start. Rules are those of job-queue.ts.
 */
import { randomUUID } from 'node:crypto';

import type { Logger } from '../log/logger.js';
import {
  type Backoff,
  backoffDelay,
  DEFAULT_BACKOFF,
  type EnqueueOptions,
  type EnqueueResult,
  type Job,
  type JobHandler,
  type JobQueue,
  PermanentFailure,
  RetryAfter,
} from './job-queue.js';
import { type Scheduler, systemScheduler } from './scheduler.js';

export interface MemoryJobQueueOptions {
  scheduler?: Scheduler;
  /** Handlers running at once (Slack allows about one message per second per channel anyway). Default 4. */
  concurrency?: number;
  logger?: Pick<Logger, 'warn' | 'error'>;
}

interface Entry {
  id: string;
  kind: string;
  key: string | undefined;
  /** As JSON carries it (rule 2); parsed anew for each attempt so a handler cannot change the next one's. */
  json: string;
  attempts: number;
  backoff: Backoff;
  /** Attempts started so far. */
  started: number;
  state: 'delayed' | 'ready' | 'running';
  cancelTimer: (() => void) | undefined;
}

export class MemoryJobQueue implements JobQueue {
  readonly #scheduler: Scheduler;
  readonly #concurrency: number;
  readonly #logger: Pick<Logger, 'warn' | 'error'> | undefined;
  readonly #handlers = new Map<string, JobHandler<unknown>>();
  /** Every job not yet finished, by id; and the keyed ones by key. */
  readonly #entries = new Map<string, Entry>();
  readonly #byKey = new Map<string, Entry>();
  /** Due jobs in the order they became due. */
  readonly #ready: Entry[] = [];
  readonly #running = new Set<Promise<void>>();
  #closed = false;

  constructor(options: MemoryJobQueueOptions = {}) {
    this.#scheduler = options.scheduler ?? systemScheduler;
    this.#concurrency = options.concurrency ?? 4;
    this.#logger = options.logger;
  }

  handle<P>(kind: string, handler: JobHandler<P>): void {
    if (this.#handlers.has(kind)) throw new Error(`a handler for job kind "${kind}" is already registered`);
    this.#handlers.set(kind, handler as JobHandler<unknown>);
    this.#pump();
  }

  async enqueue<P>(kind: string, payload: P, options: EnqueueOptions = {}): Promise<EnqueueResult> {
    if (this.#closed) throw new Error('the job queue is closed');
    const existing = options.key === undefined ? undefined : this.#byKey.get(options.key);
    if (existing) return { id: existing.id, added: false };
    const json = JSON.stringify(payload);
    if (json === undefined) throw new TypeError(`job "${kind}": the payload is not JSON`);
    const entry: Entry = {
      id: randomUUID(),
      kind,
      key: options.key,
      json,
      attempts: Math.max(1, options.attempts ?? 1),
      backoff: options.backoff ?? DEFAULT_BACKOFF,
      started: 0,
      state: 'delayed',
      cancelTimer: undefined,
    };
    this.#entries.set(entry.id, entry);
    if (entry.key !== undefined) this.#byKey.set(entry.key, entry);
    this.#schedule(entry, options.runAt ?? this.#scheduler.now());
    return { id: entry.id, added: true };
  }

  async remove(key: string): Promise<boolean> {
    const entry = this.#byKey.get(key);
    if (!entry || entry.state === 'running') return false;
    entry.cancelTimer?.();
    const index = this.#ready.indexOf(entry);
    if (index >= 0) this.#ready.splice(index, 1);
    this.#forget(entry);
    return true;
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const entry of this.#entries.values()) entry.cancelTimer?.();
    this.#ready.length = 0;
    await Promise.allSettled([...this.#running]);
    this.#entries.clear();
    this.#byKey.clear();
  }

  #schedule(entry: Entry, runAt: number): void {
    if (runAt <= this.#scheduler.now()) {
      this.#makeReady(entry);
      return;
    }
    entry.state = 'delayed';
    entry.cancelTimer = this.#scheduler.setTimer(runAt, () => this.#makeReady(entry));
  }

  #makeReady(entry: Entry): void {
    entry.cancelTimer = undefined;
    entry.state = 'ready';
    this.#ready.push(entry);
    // Start on a later tick: enqueue returns before the handler begins, as with a durable queue.
    queueMicrotask(() => this.#pump());
  }

  #pump(): void {
    while (!this.#closed && this.#running.size < this.#concurrency) {
      const index = this.#ready.findIndex((entry) => this.#handlers.has(entry.kind));
      if (index < 0) return;
      const [entry] = this.#ready.splice(index, 1);
      if (!entry) return;
      const run = this.#run(entry).finally(() => {
        this.#running.delete(run);
        this.#pump();
      });
      this.#running.add(run);
    }
  }

  async #run(entry: Entry): Promise<void> {
    const handler = this.#handlers.get(entry.kind);
    if (!handler) return;
    entry.state = 'running';
    entry.started += 1;
    const job: Job<unknown> = {
      id: entry.id,
      kind: entry.kind,
      key: entry.key,
      payload: JSON.parse(entry.json),
      attempt: entry.started,
      attempts: entry.attempts,
    };
    try {
      await handler(job);
      this.#forget(entry);
    } catch (error) {
      this.#failed(entry, error);
    }
  }

  #failed(entry: Entry, error: unknown): void {
    const detail = { job: entry.id, kind: entry.kind, key: entry.key, attempt: entry.started, attempts: entry.attempts };
    if (error instanceof PermanentFailure || entry.started >= entry.attempts || this.#closed) {
      this.#logger?.error({ ...detail, err: error }, 'job failed; giving up');
      this.#forget(entry);
      return;
    }
    const delay = error instanceof RetryAfter ? error.delayMs : backoffDelay(entry.backoff, entry.started);
    this.#logger?.warn({ ...detail, err: error, retryInMs: delay }, 'job failed; will retry');
    this.#schedule(entry, this.#scheduler.now() + delay);
  }

  async depth(): Promise<number> {
    return this.#entries.size;
  }

  #forget(entry: Entry): void {
    this.#entries.delete(entry.id);
    if (entry.key !== undefined && this.#byKey.get(entry.key) === entry) this.#byKey.delete(entry.key);
  }
}
