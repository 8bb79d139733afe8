import { afterEach, describe, expect, it, vi } from 'vitest';

import { REDIS_TEST_URL, storeEnabled } from '../../../test/contract/limit-store.contract.js';
import { BullMqJobQueue } from './bullmq-job-queue.js';
import { createJobQueue } from './create-job-queue.js';
import type { JobQueue } from './job-queue.js';
import { MemoryJobQueue } from './memory-job-queue.js';

describe('createJobQueue', () => {
  let queue: JobQueue | undefined;

  afterEach(async () => {
    vi.unstubAllEnvs();
    await queue?.close();
    queue = undefined;
  });

  // The URL is resolved once (resolveRedisUrl: REDIS_URL over the config's redis.url); the factory never reads the environment.
  it('uses the in-process queue without a Redis URL, whatever REDIS_URL says', () => {
    vi.stubEnv('REDIS_URL', REDIS_TEST_URL);
    queue = createJobQueue({ redisUrl: undefined });
    expect(queue).toBeInstanceOf(MemoryJobQueue);
    queue = createJobQueue({ redisUrl: '' });
    expect(queue).toBeInstanceOf(MemoryJobQueue);
  });

  it.skipIf(!storeEnabled('redis'))('uses BullMQ with the URL it is given', () => {
    queue = createJobQueue({ redisUrl: REDIS_TEST_URL, prefix: 'airlock:test:create-job-queue' });
    expect(queue).toBeInstanceOf(BullMqJobQueue);
  });
});
