/**
 * The JobQueue of the scaled mode: BullMQ on Redis, shared by every gateway instance, so a job enqueued on one
 * instance runs once on whichever instance picks it up, and survives the death of both. Rules are those of
 * job-queue.ts; how each maps onto BullMQ:
 *
 * - Rule 4 (one job per key) is BullMQ deduplication with the key as its id, not the key as the jobId: a custom
 *   jobId may not contain `:` (every Airlock key does), and the add script answers the id of the job already
 *   holding the key, so `added` is decided atomically in Redis even when instances race. The key is released in
 *   the same script that completes, fails or removes the job.
 * - Rule 3 (retries) is done here, not by BullMQ: a failed attempt moves its job to the delayed set due at
 *   `clock.now() + delay` and throws DelayedError, so a RetryAfter is honoured to the millisecond and every due
 *   time is on one clock (an injected one in tests). BullMQ itself never retries (its `attempts` stays 0), and
 *   failures are counted in the job's data: a run cut short by a dead process (BullMQ's stalled-job recovery,
 *   after `lockDurationMs`) is repeated as the same attempt, never as an extra one.
 * - Rule 1: one BullMQ queue carries every kind. A job of a kind this instance has no handler for (another
 *   version is rolling out) goes back to the delayed set for UNHANDLED_RECHECK_MS, without counting an attempt.
 */
import { randomUUID } from 'node:crypto';

import { DelayedError, type Job as BullJob, Queue, Worker } from 'bullmq';

import { AirlockError } from '../errors/airlock-error.js';
import type { Logger } from '../log/logger.js';
import { type Clock, systemClock } from '../util/clock.js';
import {
  type Backoff,
  backoffDelay,
  DEFAULT_BACKOFF,
  type EnqueueOptions,
  type EnqueueResult,
  type JobHandler,
  type JobQueue,
  PermanentFailure,
  RetryAfter,
} from './job-queue.js';

/** The one BullMQ queue name under the prefix: keys read `<prefix>:jobs:…`. */
export const BULLMQ_QUEUE_NAME = 'jobs';

const DEFAULT_PREFIX = 'airlock';

/** How long a job of a kind without a handler here waits before an instance looks at it again. */
const UNHANDLED_RECHECK_MS = 5000;

export interface BullMqJobQueueOptions {
  url: string;
  /** Namespaces every Redis key of the queue; instances sharing jobs use the same. Default `airlock`. */
  prefix?: string | undefined;
  /** Handlers running at once on this instance. Default 4. */
  concurrency?: number | undefined;
  logger?: Pick<Logger, 'warn' | 'error'> | undefined;
  /** Longest wait for Redis in `enqueue` and `remove`, connecting included. Default 5000 ms. */
  commandTimeoutMs?: number | undefined;
  /**
   * How long a running job stays locked to this instance without a renewal (renewed at half of it while the
   * handler runs); once a dead instance's lock lapses, another instance's stalled-job check (every
   * `stalledIntervalMs`) runs the job again. BullMQ defaults: 30 s each.
   */
  lockDurationMs?: number | undefined;
  stalledIntervalMs?: number | undefined;
  /**
   * Tests only: the clock `runAt` and retry delays are measured on. Due times are stored on it, so a clock running
   * ahead of real time keeps BullMQ from promoting delayed jobs on its own, and the test promotes them instead.
   */
  clock?: Clock | undefined;
}

/** What a job stores in Redis besides its kind (BullMQ's job name). */
interface StoredJob {
  payload: unknown;
  key: string | null;
  attempts: number;
  backoff: Backoff;
  /** Attempts that failed so far; the running one is `failures + 1`. */
  failures: number;
}

export class BullMqJobQueue implements JobQueue {
  readonly #options: BullMqJobQueueOptions;
  readonly #clock: Clock;
  readonly #logger: Pick<Logger, 'warn' | 'error'> | undefined;
  readonly #queue: Queue<StoredJob>;
  readonly #handlers = new Map<string, JobHandler<unknown>>();
  /** Kinds already reported as having no handler here, so a rolling upgrade logs each once. */
  readonly #unhandledReported = new Set<string>();
  /** Started by the first `handle`: an instance that only enqueues never takes jobs. */
  #worker: Worker<StoredJob> | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: BullMqJobQueueOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger;
    this.#queue = new Queue<StoredJob>(BULLMQ_QUEUE_NAME, {
      connection: { url: options.url },
      prefix: options.prefix ?? DEFAULT_PREFIX,
      // Jobs leave Redis when they end; a failure is logged with its error instead of kept.
      defaultJobOptions: { removeOnComplete: true, removeOnFail: true },
    });
    // BullMQ reconnects on its own; without a listener an 'error' event would throw.
    this.#queue.on('error', (err) => this.#logger?.warn({ err }, 'job queue: Redis error'));
  }

  handle<P>(kind: string, handler: JobHandler<P>): void {
    if (this.#handlers.has(kind)) {
      throw new AirlockError('INTERNAL', `a handler for job kind "${kind}" is already registered`);
    }
    this.#handlers.set(kind, handler as JobHandler<unknown>);
    if (this.#worker || this.#closing) return;
    const { url, prefix = DEFAULT_PREFIX, concurrency = 4, lockDurationMs, stalledIntervalMs } = this.#options;
    this.#worker = new Worker<StoredJob>(BULLMQ_QUEUE_NAME, (job, token) => this.#process(job, token), {
      connection: { url },
      prefix,
      concurrency,
      ...(lockDurationMs === undefined ? {} : { lockDuration: lockDurationMs }),
      ...(stalledIntervalMs === undefined ? {} : { stalledInterval: stalledIntervalMs }),
    });
    this.#worker.on('error', (err) => this.#logger?.warn({ err }, 'job queue: worker error'));
    // Every way a job ends unsuccessfully passes here: out of attempts, PermanentFailure, stalled too often.
    this.#worker.on('failed', (job, err) => this.#logger?.error({ ...logFields(job), err }, 'job failed; giving up'));
  }

  async enqueue<P>(kind: string, payload: P, options: EnqueueOptions = {}): Promise<EnqueueResult> {
    if (this.#closing) throw new AirlockError('INTERNAL', 'the job queue is closed');
    const json = JSON.stringify(payload);
    if (json === undefined) throw new AirlockError('INTERNAL', `job "${kind}": the payload is not JSON`);
    const data: StoredJob = {
      payload: JSON.parse(json),
      key: options.key ?? null,
      attempts: Math.max(1, options.attempts ?? 1),
      backoff: options.backoff ?? DEFAULT_BACKOFF,
      failures: 0,
    };
    const now = this.#clock.now();
    const jobId = randomUUID();
    const job = await this.#bounded(
      this.#queue.add(kind, data, {
        jobId,
        // Stored due time = timestamp + delay, both on our clock.
        timestamp: now,
        delay: Math.max(0, (options.runAt ?? now) - now),
        ...(options.key === undefined ? {} : { deduplication: { id: options.key } }),
      }),
    );
    const id = job.id ?? jobId;
    return { id, added: id === jobId };
  }

  async remove(key: string): Promise<boolean> {
    return this.#bounded(
      (async () => {
        // The deduplication entry names the job holding the key for as long as it waits, is delayed or runs.
        const id = await this.#queue.getDeduplicationJobId(key);
        if (!id) return false;
        const state = await this.#queue.getJobState(id);
        if (state === 'unknown' || state === 'active') return false;
        // Answers 0 when the job took a worker's lock meanwhile: a running handler is never interrupted. (One that
        // started and finished between these round trips still reads as removed.)
        return (await this.#queue.remove(id)) === 1;
      })(),
    );
  }

  async depth(): Promise<number> {
    const counts = await this.#bounded(this.#queue.getJobCounts('waiting', 'delayed', 'active', 'prioritized', 'waiting-children'));
    return Object.values(counts).reduce((sum, n) => sum + n, 0);
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      // Waits for the running handlers; jobs not started stay in Redis for the other instances. With Redis away a
      // graceful close waits for it forever (the worker's last commands, then QUIT), so the sockets are dropped
      // instead: nothing is lost, the jobs are in Redis and a running one is taken over once its lock lapses.
      // Not Queue.disconnect(): it waits for ioredis's 'end', which never comes while the client sits between
      // two reconnection attempts.
      const force = await this.#redisAway();
      await this.#worker?.close(force);
      if (force) await this.#queue.getBackend().close(true);
      await this.#queue.close();
    })();
    return this.#closing;
  }

  /**
   * Whether Redis is known to be away: a connection of the queue or the worker that was up is down now. One that
   * never connected says nothing (and closing it needs no Redis): the client promise resolves once connected, and
   * racing it against a settled one reads it without waiting.
   */
  async #redisAway(): Promise<boolean> {
    const users = [this.#queue, ...(this.#worker ? [this.#worker] : [])];
    const clients = await Promise.all(users.map((user) => Promise.race([user.getBackend().client, Promise.resolve(undefined)])));
    return clients.some((client) => client !== undefined && client.status !== 'ready');
  }

  async #process(job: BullJob<StoredJob>, token: string | undefined): Promise<void> {
    const handler = this.#handlers.get(job.name);
    if (!handler) {
      if (!this.#unhandledReported.has(job.name)) {
        this.#unhandledReported.add(job.name);
        this.#logger?.warn({ kind: job.name }, 'job kind has no handler on this instance; leaving it to one that has');
      }
      await job.moveToDelayed(this.#clock.now() + UNHANDLED_RECHECK_MS, token);
      throw new DelayedError();
    }
    const data = job.data;
    const attempt = data.failures + 1;
    try {
      // A copy per attempt: what the handler does to its payload never reaches the next attempt's.
      await handler({
        id: job.id ?? '',
        kind: job.name,
        key: data.key ?? undefined,
        payload: structuredClone(data.payload),
        attempt,
        attempts: data.attempts,
      });
    } catch (error) {
      if (error instanceof PermanentFailure || attempt >= data.attempts) throw error;
      const delay = error instanceof RetryAfter ? error.delayMs : backoffDelay(data.backoff, attempt);
      this.#logger?.warn({ ...logFields(job), err: error, retryInMs: delay }, 'job failed; will retry');
      // Two writes, not one: should this process die between them, the job is run again as this next attempt.
      await job.updateData({ ...data, failures: attempt });
      await job.moveToDelayed(this.#clock.now() + delay, token);
      throw new DelayedError();
    }
  }

  /**
   * Bounds a Redis round trip (BullMQ waits for a connection indefinitely) and names the failure. An add that
   * timed out may still land once Redis is back; a keyed retry of it then answers `added: false`.
   */
  async #bounded<T>(operation: Promise<T>): Promise<T> {
    // While BullMQ reconnects, Redis is known to be away: answer at once rather than hold the caller (the outbox
    // relay holds a database transaction meanwhile, on PGlite the only connection) for the whole timeout.
    if (await this.#redisAway()) {
      operation.catch(() => undefined);
      throw new AirlockError('STORAGE_UNAVAILABLE', 'job queue: Redis is unreachable (reconnecting)');
    }
    const ms = this.#options.commandTimeoutMs ?? 5000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      const error = new AirlockError('STORAGE_UNAVAILABLE', `job queue: Redis did not answer within ${ms} ms`);
      timer = setTimeout(() => reject(error), ms);
    });
    try {
      return await Promise.race([operation, timeout]);
    } catch (error) {
      if (error instanceof AirlockError) throw error;
      const message = error instanceof Error ? error.message : String(error);
      throw new AirlockError('STORAGE_UNAVAILABLE', `job queue: ${message}`, { cause: error });
    } finally {
      clearTimeout(timer);
    }
  }
}

function logFields(job: BullJob<StoredJob> | undefined) {
  if (!job) return {};
  const { key, failures, attempts } = job.data;
  return { job: job.id, kind: job.name, key: key ?? undefined, attempt: failures + 1, attempts };
}
