/**
 * The JobQueue contract (server/src/jobs/job-queue.ts, rules 1–6) as one suite every queue runs with its own
 * harness. Delays are short (hundreds of milliseconds) so a backend on real time can run it too; the in-process
 * queue runs it on a ManualScheduler and never sleeps. Times are checked as lower bounds ("not before"), which
 * holds for both.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { type Job, type JobQueue, PermanentFailure, RetryAfter } from '../../server/src/jobs/job-queue.js';

export interface JobQueueHarness {
  queue: JobQueue;
  /** The queue's clock. */
  now(): number;
  /** Lets `ms` pass on the queue's clock, running what falls due. */
  advance(ms: number): Promise<void>;
}

interface Call {
  job: Job<unknown>;
  at: number;
}

/** Records handler calls; `until(n)` resolves once n calls have been made. */
class Calls {
  readonly list: Call[] = [];
  #waiters: Array<{ n: number; resolve: () => void }> = [];

  record(call: Call): void {
    this.list.push(call);
    this.#waiters = this.#waiters.filter((w) => (this.list.length >= w.n ? (w.resolve(), false) : true));
  }

  until(n: number): Promise<void> {
    if (this.list.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ n, resolve }));
  }

  get count(): number {
    return this.list.length;
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

export function describeJobQueueContract(name: string, factory: () => Promise<JobQueueHarness> | JobQueueHarness): void {
  describe(`JobQueue contract: ${name}`, () => {
    let h: JobQueueHarness;
    let calls: Calls;

    beforeEach(async () => {
      h = await factory();
      calls = new Calls();
    });

    afterEach(async () => {
      await h.queue.close();
    });

    /** A handler that records each call and then does what `outcome` says for that attempt. */
    function handle(kind: string, outcome: (job: Job<unknown>) => Promise<void> | void = () => {}): void {
      h.queue.handle(kind, async (job) => {
        calls.record({ job, at: h.now() });
        await outcome(job);
      });
    }

    it('runs a job at once with a copy of its payload (rules 1, 2)', async () => {
      handle('greet');
      const payload = { name: 'ada', tags: ['x'] };
      const { id, added } = await h.queue.enqueue('greet', payload, { key: 'greet:ada' });
      payload.tags.push('changed after enqueue');
      await h.advance(0);
      await calls.until(1);
      const job = calls.list[0]!.job;
      expect(added).toBe(true);
      expect(job).toMatchObject({ id, kind: 'greet', key: 'greet:ada', attempt: 1, attempts: 1 });
      expect(job.payload).toEqual({ name: 'ada', tags: ['x'] });
    });

    it('counts unfinished jobs as its depth', async () => {
      const start = h.now();
      expect(await h.queue.depth()).toBe(0);
      await h.queue.enqueue('later', { n: 1 }, { runAt: start + 400 });
      await h.queue.enqueue('later', { n: 2 }, { runAt: start + 400 });
      expect(await h.queue.depth()).toBe(2);
      handle('later');
      await h.advance(400);
      await calls.until(2);
      await expect.poll(() => h.queue.depth()).toBe(0);
    });

    it('waits for runAt, and for a handler registered later (rule 1)', async () => {
      const start = h.now();
      await h.queue.enqueue('later', { n: 1 }, { runAt: start + 400 });
      await h.advance(200);
      handle('later');
      await h.advance(50);
      expect(calls.count).toBe(0);
      await h.advance(300);
      await calls.until(1);
      expect(calls.list[0]!.at - start).toBeGreaterThanOrEqual(400);
    });

    it('retries with exponential backoff up to the attempts, then gives up (rule 3)', async () => {
      handle('flaky', () => {
        throw new Error('upstream 500');
      });
      const start = h.now();
      await h.queue.enqueue('flaky', {}, { attempts: 4, backoff: { type: 'exponential', delayMs: 100 } });
      await h.advance(0);
      await calls.until(1);
      await h.advance(100);
      await calls.until(2);
      await h.advance(200);
      await calls.until(3);
      await h.advance(400);
      await calls.until(4);
      await h.advance(2000);
      expect(calls.count).toBe(4);
      const offsets = calls.list.map((c) => c.at - start);
      expect(offsets[1]! - offsets[0]!).toBeGreaterThanOrEqual(100);
      expect(offsets[2]! - offsets[1]!).toBeGreaterThanOrEqual(200);
      expect(offsets[3]! - offsets[2]!).toBeGreaterThanOrEqual(400);
      expect(calls.list.map((c) => c.job.attempt)).toEqual([1, 2, 3, 4]);
    });

    it('caps exponential backoff at maxDelayMs and stops after a success (rule 3)', async () => {
      handle('capped', (job) => {
        if (job.attempt < 3) throw new Error('not yet');
      });
      await h.queue.enqueue('capped', {}, { attempts: 5, backoff: { type: 'exponential', delayMs: 100, maxDelayMs: 150 } });
      await h.advance(0);
      await calls.until(1);
      await h.advance(100);
      await calls.until(2);
      await h.advance(150);
      await calls.until(3);
      await h.advance(2000);
      expect(calls.count).toBe(3);
      expect(calls.list[2]!.at - calls.list[1]!.at).toBeGreaterThanOrEqual(150);
    });

    it('waits as long as a RetryAfter asks, not the backoff (rule 3)', async () => {
      handle('limited', (job) => {
        if (job.attempt === 1) throw new RetryAfter(700);
      });
      await h.queue.enqueue('limited', {}, { attempts: 3, backoff: { type: 'fixed', delayMs: 100 } });
      await h.advance(0);
      await calls.until(1);
      await h.advance(300);
      expect(calls.count).toBe(1);
      await h.advance(400);
      await calls.until(2);
      expect(calls.list[1]!.at - calls.list[0]!.at).toBeGreaterThanOrEqual(700);
    });

    it('ends a job at once on PermanentFailure (rule 3)', async () => {
      handle('doomed', () => {
        throw new PermanentFailure('channel_not_found');
      });
      await h.queue.enqueue('doomed', {}, { attempts: 5, backoff: { type: 'fixed', delayMs: 100 } });
      await h.advance(0);
      await calls.until(1);
      await h.advance(1000);
      expect(calls.count).toBe(1);
    });

    it('keeps one job per key while it waits, runs or waits to retry, then frees the key (rule 4)', async () => {
      const gate = deferred();
      handle('post', async (job) => {
        if (job.attempt === 1) await gate.promise;
        if (job.attempt === 1) throw new Error('try again');
      });
      const first = await h.queue.enqueue('post', { v: 1 }, { key: 'post:a', attempts: 2, backoff: { type: 'fixed', delayMs: 100 } });
      const waiting = await h.queue.enqueue('post', { v: 2 }, { key: 'post:a' });
      expect(waiting).toEqual({ id: first.id, added: false });

      await h.advance(0);
      await calls.until(1);
      const running = await h.queue.enqueue('post', { v: 3 }, { key: 'post:a' });
      expect(running).toEqual({ id: first.id, added: false });

      gate.resolve();
      await h.advance(10);
      const retrying = await h.queue.enqueue('post', { v: 4 }, { key: 'post:a' });
      expect(retrying).toEqual({ id: first.id, added: false });

      await h.advance(100);
      await calls.until(2);
      await h.advance(10);
      const again = await h.queue.enqueue('post', { v: 5 }, { key: 'post:a' });
      expect(again.added).toBe(true);
      await h.advance(0);
      await calls.until(3);
      expect(calls.list.map((c) => c.job.payload)).toEqual([{ v: 1 }, { v: 1 }, { v: 5 }]);
    });

    it('removes a delayed job or one waiting to retry, never a running one (rule 5)', async () => {
      const gate = deferred();
      handle('timeout', async (job) => {
        const { name } = job.payload as { name: string };
        if (name === 'slow') await gate.promise;
        if (name === 'retry') throw new Error('fails');
      });
      const start = h.now();
      await h.queue.enqueue('timeout', { name: 'delayed' }, { key: 'timeout:a', runAt: start + 300 });
      await h.queue.enqueue('timeout', { name: 'retry' }, { key: 'timeout:b', attempts: 3, backoff: { type: 'fixed', delayMs: 200 } });
      await h.queue.enqueue('timeout', { name: 'slow' }, { key: 'timeout:c' });
      await h.advance(0);
      await calls.until(2);

      expect(await h.queue.remove('timeout:a')).toBe(true);
      expect(await h.queue.remove('timeout:b')).toBe(true);
      expect(await h.queue.remove('timeout:c')).toBe(false);
      expect(await h.queue.remove('timeout:unknown')).toBe(false);
      gate.resolve();
      await h.advance(1000);
      expect(calls.list.map((c) => (c.job.payload as { name: string }).name).sort()).toEqual(['retry', 'slow']);
    });

    it('refuses a second handler for a kind', () => {
      handle('once');
      expect(() => h.queue.handle('once', async () => {})).toThrow(/already registered/);
    });

    it('close waits for running handlers and refuses new jobs (rule 6)', async () => {
      const gate = deferred();
      let finished = false;
      handle('long', async () => {
        await gate.promise;
        finished = true;
      });
      await h.queue.enqueue('long', {});
      await h.advance(0);
      await calls.until(1);
      const closing = h.queue.close();
      gate.resolve();
      await closing;
      expect(finished).toBe(true);
      await expect(h.queue.enqueue('long', {})).rejects.toThrow();
    });
  });
}
