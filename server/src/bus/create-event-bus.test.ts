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

  it('uses the in-process bus when REDIS_URL is unset or empty', () => {
    vi.stubEnv('REDIS_URL', '');
    bus = createEventBus();
    expect(bus).toBeInstanceOf(MemoryEventBus);
  });

  it.skipIf(!storeEnabled('redis'))('uses Redis pub/sub when REDIS_URL is set', () => {
    vi.stubEnv('REDIS_URL', REDIS_TEST_URL);
    bus = createEventBus();
    expect(bus).toBeInstanceOf(RedisEventBus);
  });

  it('uses the URL it is given over REDIS_URL', () => {
    vi.stubEnv('REDIS_URL', REDIS_TEST_URL);
    bus = createEventBus({ redisUrl: '' });
    expect(bus).toBeInstanceOf(MemoryEventBus);
  });
});
