import { describe, expect, it } from 'vitest';

import { MemoryJobQueue } from '../jobs/memory-job-queue.js';
import { PermanentFailure } from '../jobs/job-queue.js';
import { instrumentQueue } from './instrument-queue.js';
import { createMetrics } from './metrics.js';

describe('instrumentQueue', () => {
  it('counts failed attempts by kind, leaves successful jobs alone and reports the depth', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const queue = instrumentQueue(new MemoryJobQueue(), metrics);
    const done: string[] = [];
    const failed = new Promise<void>((resolve) => {
      queue.handle<{ n: number }>('slack.post', async (job) => {
        if (job.payload.n === 2) {
          resolve();
          throw new PermanentFailure('channel_not_found');
        }
        done.push(`post ${job.payload.n}`);
      });
    });
    await queue.enqueue('slack.post', { n: 1 });
    await queue.enqueue('slack.post', { n: 2 });
    await failed;
    await expect.poll(async () => (await metrics.registry.metrics()).includes('airlock_job_failures_total{kind="slack.post"} 1')).toBe(true);
    expect(done).toEqual(['post 1']);
    await queue.enqueue('slack.post', { n: 3 }, { runAt: Date.now() + 60_000 });
    expect(await metrics.registry.metrics()).toContain('airlock_queue_depth 1');
    await queue.close();
  });
});
