/** Picks the limit store for this process: Redis when a URL is configured (resolveRedisUrl), memory otherwise. */
import type { Clock } from '../util/clock.js';
import type { LimitStore } from './limit-store.js';
import { MemoryLimitStore } from './memory-limit-store.js';
import { RedisLimitStore } from './redis-limit-store.js';

export interface CreateLimitStoreOptions {
  /** Empty or unset means the in-memory store (single process only). */
  redisUrl: string | undefined;
  /** Redis only; defaults to `airlock:limits:`. */
  keyPrefix?: string | undefined;
  /**
   * Tests only. Left unset, the memory store reads the system clock and Redis its own server clock, the one clock
   * all instances share; a clock passed here replaces both.
   */
  clock?: Clock | undefined;
}

export function createLimitStore({ redisUrl, keyPrefix, clock }: CreateLimitStoreOptions): LimitStore {
  return redisUrl ? new RedisLimitStore({ url: redisUrl, keyPrefix, clock }) : new MemoryLimitStore({ clock });
}
