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

  it('uses memory when REDIS_URL is unset or empty', () => {
    vi.stubEnv('REDIS_URL', '');
    store = createLimitStore();
    expect(store).toBeInstanceOf(MemoryLimitStore);
  });

  it.skipIf(!storeEnabled('redis'))('uses Redis when REDIS_URL is set', () => {
    vi.stubEnv('REDIS_URL', REDIS_TEST_URL);
    store = createLimitStore();
    expect(store).toBeInstanceOf(RedisLimitStore);
  });

  it('uses the URL it is given over REDIS_URL', () => {
    vi.stubEnv('REDIS_URL', REDIS_TEST_URL);
    store = createLimitStore({ redisUrl: '' });
    expect(store).toBeInstanceOf(MemoryLimitStore);
  });
});
