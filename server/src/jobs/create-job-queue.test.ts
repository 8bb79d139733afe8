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

  it('uses the in-process queue when REDIS_URL is unset or empty', () => {
    vi.stubEnv('REDIS_URL', '');
    queue = createJobQueue();
    expect(queue).toBeInstanceOf(MemoryJobQueue);
  });

  it.skipIf(!storeEnabled('redis'))('uses BullMQ when REDIS_URL is set', () => {
    vi.stubEnv('REDIS_URL', REDIS_TEST_URL);
    queue = createJobQueue({ prefix: 'airlock:test:create-job-queue' });
    expect(queue).toBeInstanceOf(BullMqJobQueue);
  });

  it('uses the URL it is given over REDIS_URL', () => {
    vi.stubEnv('REDIS_URL', REDIS_TEST_URL);
    queue = createJobQueue({ redisUrl: '' });
    expect(queue).toBeInstanceOf(MemoryJobQueue);
  });
});
