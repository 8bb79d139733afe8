import { afterEach, describe, expect, it, vi } from 'vitest';
import { REDIS_TEST_URL, storeEnabled } from '../../../test/contract/limit-store.contract.js';
import { createLimitStore } from './create-limit-store.js';
import type { LimitStore } from './limit-store.js';
import { MemoryLimitStore } from './memory-limit-store.js';
import { RedisLimitStore } from './redis-limit-store.js';

describe('createLimitStore', () => {
  let store: LimitStore | undefined;

  afterEach(async () => {
    vi.unstubAllEnvs();
    await store?.close();
  });

  // The URL is resolved once (resolveRedisUrl: REDIS_URL over the config's redis.url); the factory never reads the environment.
  it('uses the memory store without a Redis URL, whatever REDIS_URL says', () => {
    vi.stubEnv('REDIS_URL', REDIS_TEST_URL);
    store = createLimitStore({ redisUrl: undefined });
    expect(store).toBeInstanceOf(MemoryLimitStore);
    store = createLimitStore({ redisUrl: '' });
    expect(store).toBeInstanceOf(MemoryLimitStore);
  });

  it.skipIf(!storeEnabled('redis'))('uses Redis with the URL it is given', () => {
    store = createLimitStore({ redisUrl: REDIS_TEST_URL });
    expect(store).toBeInstanceOf(RedisLimitStore);
  });
});
