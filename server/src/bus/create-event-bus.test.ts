import { afterEach, describe, expect, it, vi } from 'vitest';

import { REDIS_TEST_URL, storeEnabled } from '../../../test/contract/limit-store.contract.js';
import { createEventBus } from './create-event-bus.js';
import type { EventBus } from './event-bus.js';
import { MemoryEventBus } from './memory-event-bus.js';
import { RedisEventBus } from './redis-event-bus.js';

describe('createEventBus', () => {
  let bus: EventBus | undefined;

  afterEach(async () => {
    vi.unstubAllEnvs();
    await bus?.close();
    bus = undefined;
  });

  // The URL is resolved once (resolveRedisUrl: REDIS_URL over the config's redis.url); the factory never reads the environment.
  it('uses the in-process bus without a Redis URL, whatever REDIS_URL says', () => {
    vi.stubEnv('REDIS_URL', REDIS_TEST_URL);
    bus = createEventBus({ redisUrl: undefined });
    expect(bus).toBeInstanceOf(MemoryEventBus);
    bus = createEventBus({ redisUrl: '' });
    expect(bus).toBeInstanceOf(MemoryEventBus);
  });

  it.skipIf(!storeEnabled('redis'))('uses Redis pub/sub with the URL it is given', () => {
    bus = createEventBus({ redisUrl: REDIS_TEST_URL });
    expect(bus).toBeInstanceOf(RedisEventBus);
  });
});
