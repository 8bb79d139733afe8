import { randomUUID } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';

import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { describeJobQueueContract } from '../../../test/contract/job-queue.contract.js';
import { REDIS_TEST_URL, storeEnabled } from '../../../test/contract/limit-store.contract.js';
import { AirlockError } from '../errors/airlock-error.js';
import { ManualClock } from '../util/clock.js';
import { BULLMQ_QUEUE_NAME, BullMqJobQueue, type BullMqJobQueueOptions } from './bullmq-job-queue.js';
import { type Job, type JobHandler, type JobQueue, RetryAfter } from './job-queue.js';

const DAY = 24 * 60 * 60 * 1000;

/**
 * Counts handler runs that have returned but whose outcome Redis has not recorded yet (BullMQ writes it after the
 * handler settles). A step of a test waits for those first, as the in-process queue's scheduler settles its own
 * work before time moves: otherwise "advance 100 ms" could run before the failed attempt's retry was scheduled.
 */
class Settling {
  readonly #unrecorded = new Map<string, number>();
  #wakers: Array<() => void> = [];

  returned(id: string): void {
    this.#unrecorded.set(id, (this.#unrecorded.get(id) ?? 0) + 1);
  }

  /** An outcome event of job `id`; events of jobs no handler returned for (added, put back unhandled) are not outcomes. */
  recorded(id: string): void {
    const count = this.#unrecorded.get(id);
    if (count === undefined) return;
    if (count > 1) this.#unrecorded.set(id, count - 1);
    else this.#unrecorded.delete(id);
    for (const wake of this.#wakers.splice(0)) wake();
  }

  async settled(): Promise<void> {
    // A handler released just before (a test's gate) returns within a few turns.
    for (let i = 0; i < 3; i++) await nextTurn();
    while (this.#unrecorded.size > 0) await new Promise<void>((resolve) => this.#wakers.push(resolve));
  }
}

describe.skipIf(!storeEnabled('redis'))('BullMqJobQueue', () => {
  let admin: Redis;
  const prefixes: string[] = [];
  const closers: Array<() => Promise<void>> = [];

  const newPrefix = () => {
    const prefix = `airlock:test:${randomUUID()}`;
    prefixes.push(prefix);
    return prefix;
  };

  beforeAll(() => {
    admin = new Redis(REDIS_TEST_URL);
  });

  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
    for (const prefix of prefixes.splice(0)) {
      const keys = await admin.keys(`${prefix}:*`);
      if (keys.length > 0) await admin.del(...keys);
    }
  });

  afterAll(async () => {
    await admin.quit();
  });

  /**
   * A queue on its own prefix whose clock runs a day ahead of real time. Due times are stored on that clock, so
   * BullMQ, which promotes a delayed job once real time reaches it, never does so during a test; `advance` moves
   * the clock and promotes what fell due, and nothing waits on real time.
   */
  async function harness(options: Partial<BullMqJobQueueOptions> = {}) {
    const prefix = options.prefix ?? newPrefix();
    const clock = new ManualClock(Date.now() + DAY);
    const queue = new BullMqJobQueue({ url: REDIS_TEST_URL, prefix, clock, ...options });
    const inspector = new Queue(BULLMQ_QUEUE_NAME, { connection: { url: REDIS_TEST_URL }, prefix });
    // From the start of the (fresh) stream, so no outcome written before the first read is missed.
    const events = new QueueEvents(BULLMQ_QUEUE_NAME, { connection: { url: REDIS_TEST_URL }, prefix, lastEventId: '0-0' });
    await events.waitUntilReady();
    closers.push(
      () => queue.close(),
      () => inspector.close(),
      () => events.close(),
    );
    const settling = new Settling();
    for (const outcome of ['completed', 'failed', 'delayed'] as const) {
      events.on(outcome, ({ jobId }: { jobId: string }) => settling.recorded(jobId));
    }

    const settledQueue: JobQueue = {
      handle: <P>(kind: string, handler: JobHandler<P>) =>
        queue.handle<P>(kind, async (job) => {
          try {
            await handler(job);
          } finally {
            settling.returned(job.id);
          }
        }),
      enqueue: async (kind, payload, opts) => {
        await settling.settled();
        return queue.enqueue(kind, payload, opts);
      },
      remove: async (key) => {
        await settling.settled();
        return queue.remove(key);
      },
      depth: () => queue.depth(),
      close: () => queue.close(),
    };

    /** Due times of the delayed jobs, soonest first (BullMQ scores a job at due·4096 + a tie-breaker). */
    const delayed = async (): Promise<Array<{ id: string; at: number }>> => {
      const flat = await admin.zrange(inspector.keys.delayed!, '0', '-1', 'WITHSCORES');
      const out: Array<{ id: string; at: number }> = [];
      for (let i = 0; i < flat.length; i += 2) out.push({ id: flat[i]!, at: Math.floor(Number(flat[i + 1]) / 0x1000) });
      return out;
    };

    const advance = async (ms: number) => {
      await settling.settled();
      clock.advance(ms);
      for (const { id, at } of await delayed()) {
        if (at > clock.now()) break;
        await (await inspector.getJob(id))?.promote();
      }
    };

    return { queue, settledQueue, clock, advance, delayed, settled: () => settling.settled(), prefix };
  }

  describeJobQueueContract('bullmq', async () => {
    const h = await harness();
    return { queue: h.settledQueue, now: () => h.clock.now(), advance: h.advance };
  });

  describe('when a handler asks to retry after a delay', () => {
    it('schedules the next attempt exactly that long after the failure', async () => {
      const h = await harness();
      let failedAt = 0;
      h.settledQueue.handle('post', async (job) => {
        failedAt = h.clock.now();
        if (job.attempt === 1) throw new RetryAfter(7000);
      });
      const { id } = await h.queue.enqueue('post', {}, { attempts: 2 });
      while (failedAt === 0) await nextTurn();
      await h.settled();
      expect(await h.delayed()).toEqual([{ id, at: failedAt + 7000 }]);
    });
  });

  describe('when a job of a kind without a handler here falls due', () => {
    it('puts it back without spending an attempt, and runs it once a handler is registered', async () => {
      const h = await harness();
      const seen: Array<Job<unknown>> = [];
      h.queue.handle('known', async () => {});
      const { id } = await h.queue.enqueue('later-kind', { n: 1 }, { attempts: 1 });
      // Put back by this instance, due again 5 s later on the queue's clock.
      while ((await h.delayed()).length === 0) await nextTurn();
      expect((await h.delayed())[0]).toEqual({ id, at: h.clock.now() + 5000 });

      h.queue.handle('later-kind', async (job) => {
        seen.push(job);
      });
      await h.advance(5000);
      while (seen.length === 0) await nextTurn();
      expect(seen[0]).toMatchObject({ id, kind: 'later-kind', attempt: 1, attempts: 1, payload: { n: 1 } });
    });
  });

  describe('when two instances share a prefix', () => {
    it('keeps one job per key across them and lets either remove it', async () => {
      const a = await harness();
      const b = await harness({ prefix: a.prefix });
      const runAt = a.clock.now() + 60_000;
      const first = await a.queue.enqueue('expire', { approvalId: 'ap1' }, { key: 'expire:ap1', runAt });
      const second = await b.queue.enqueue('expire', { approvalId: 'ap1' }, { key: 'expire:ap1', runAt });
      expect(second).toEqual({ id: first.id, added: false });
      expect(await b.queue.remove('expire:ap1')).toBe(true);
      expect(await a.queue.remove('expire:ap1')).toBe(false);
      expect((await a.queue.enqueue('expire', { approvalId: 'ap1' }, { key: 'expire:ap1', runAt })).added).toBe(true);
    });
  });

  describe('when Redis cannot be reached', () => {
    it('rejects enqueue with STORAGE_UNAVAILABLE after commandTimeoutMs instead of waiting for it', async () => {
      // Port 1 on loopback: nothing listens there, and the connection keeps being retried.
      const queue = new BullMqJobQueue({ url: 'redis://127.0.0.1:1', commandTimeoutMs: 200 });
      closers.push(() => queue.close());
      const error = await queue.enqueue('post', {}).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AirlockError);
      expect(error).toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
    });
  });
});
