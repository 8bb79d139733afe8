import { describe, expect, it } from 'vitest';

import { describeJobQueueContract } from '../../../test/contract/job-queue.contract.js';
import { backoffDelay, RetryAfter } from './job-queue.js';
import { MemoryJobQueue } from './memory-job-queue.js';
import { ManualScheduler } from './scheduler.js';

describeJobQueueContract('memory', () => {
  const scheduler = new ManualScheduler();
  const queue = new MemoryJobQueue({ scheduler });
  return { queue, now: () => scheduler.now(), advance: (ms) => scheduler.advance(ms) };
});

describe('MemoryJobQueue', () => {
  it('fires a RetryAfter retry exactly when asked, not a millisecond before', async () => {
    const scheduler = new ManualScheduler();
    const queue = new MemoryJobQueue({ scheduler });
    const at: number[] = [];
    queue.handle('post', async (job) => {
      at.push(scheduler.now());
      if (job.attempt === 1) throw new RetryAfter(7000);
    });
    const start = scheduler.now();
    await queue.enqueue('post', {}, { attempts: 2 });
    await scheduler.untilTimerSet();
    expect(scheduler.pending()).toEqual([start + 7000]);
    await scheduler.advance(6999);
    expect(at).toEqual([start]);
    await scheduler.advance(1);
    expect(at).toEqual([start, start + 7000]);
    await queue.close();
  });

  it('runs at most `concurrency` handlers at once', async () => {
    const scheduler = new ManualScheduler();
    const queue = new MemoryJobQueue({ scheduler, concurrency: 2 });
    let running = 0;
    let peak = 0;
    const release: Array<() => void> = [];
    queue.handle('work', async () => {
      running += 1;
      peak = Math.max(peak, running);
      await new Promise<void>((resolve) => release.push(resolve));
      running -= 1;
    });
    for (let i = 0; i < 5; i++) await queue.enqueue('work', { i });
    await scheduler.advance(0);
    expect(running).toBe(2);
    while (release.length > 0) {
      release.shift()!();
      await scheduler.advance(0);
    }
    expect(peak).toBe(2);
    await queue.close();
  });

  it('rejects a payload JSON cannot carry', async () => {
    const queue = new MemoryJobQueue({ scheduler: new ManualScheduler() });
    await expect(queue.enqueue('bad', undefined)).rejects.toThrow(/not JSON/);
    await queue.close();
  });
});

describe('backoffDelay', () => {
  it('doubles from the first delay and respects the cap', () => {
    const backoff = { type: 'exponential', delayMs: 1000, maxDelayMs: 5000 } as const;
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(backoff, n))).toEqual([1000, 2000, 4000, 5000, 5000]);
    expect(backoffDelay({ type: 'fixed', delayMs: 250 }, 4)).toBe(250);
  });
});
