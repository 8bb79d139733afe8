/** Picks the event bus for this process: Redis pub/sub when a Redis URL is configured (resolveRedisUrl), else in-process. */
import type { BusLogger } from './deliver.js';
import type { EventBus } from './event-bus.js';
import { MemoryEventBus } from './memory-event-bus.js';
import { RedisEventBus } from './redis-event-bus.js';

export interface CreateEventBusOptions {
  /** Empty or unset means the in-process bus (single process only). */
  redisUrl: string | undefined;
  /** Redis only: prepended to every channel; defaults to `airlock:`. */
  channelPrefix?: string | undefined;
  logger?: BusLogger | undefined;
}

export function createEventBus({ redisUrl, channelPrefix, logger }: CreateEventBusOptions): EventBus {
  return redisUrl ? new RedisEventBus({ url: redisUrl, channelPrefix, logger }) : new MemoryEventBus({ logger });
}
