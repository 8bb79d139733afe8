import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  describeLimitStoreContract,
  REDIS_TEST_URL,
  storeEnabled,
} from '../../../test/contract/limit-store.contract.js';
import type { LimitRequest } from './limit-store.js';
import { RedisLimitStore } from './redis-limit-store.js';

describe.skipIf(!storeEnabled('redis'))('RedisLimitStore', () => {
  let admin: Redis;
  const prefixes: string[] = [];
  /** A store on keys no other test (or engineer) uses; afterEach deletes them. */
  const newPrefix = () => {
    const prefix = `airlock:test:${randomUUID()}:`;
    prefixes.push(prefix);
    return prefix;
  };

  beforeAll(() => {
    admin = new Redis(REDIS_TEST_URL);
  });

  afterEach(async () => {
    for (const prefix of prefixes.splice(0)) {
      const keys = await admin.keys(`${prefix}*`);
      if (keys.length > 0) await admin.del(...keys);
    }
  });

  afterAll(async () => {
    await admin.quit();
  });

  describeLimitStoreContract(
    'redis',
    (clock) => new RedisLimitStore({ url: REDIS_TEST_URL, keyPrefix: newPrefix(), clock }),
  );

  const request = (overrides: Partial<LimitRequest> = {}): LimitRequest => ({
    key: 'calls:grant:g1',
    counter: 'calls',
    windowMs: 60_000,
    max: 2,
    cost: 1,
    onExceed: 'deny',
    rule: '/all_tools/limits/0',
    ...overrides,
  });

  describe('when no clock is given', () => {
    it('uses the Redis server clock', async () => {
      const store = new RedisLimitStore({ url: REDIS_TEST_URL, keyPrefix: newPrefix() });
      try {
        expect((await store.consume([request()])).allowed).toBe(true);
        expect((await store.consume([request()])).allowed).toBe(true);
        const denied = await store.consume([request()]);
        expect(denied.allowed).toBe(false);
        if (!denied.allowed) {
          expect(denied.retryAfterMs).toBeGreaterThan(59_000);
          expect(denied.retryAfterMs).toBeLessThanOrEqual(60_000);
        }
      } finally {
        await store.close();
      }
    });
  });

  describe('when a call is admitted', () => {
    it('keeps its keys under the prefix and lets them expire with the longest window', async () => {
      const prefix = newPrefix();
      const store = new RedisLimitStore({ url: REDIS_TEST_URL, keyPrefix: prefix });
      try {
        await store.consume([request(), request({ windowMs: 3_600_000, max: 5 })], { callId: 'call-7' });
        expect((await admin.keys(`${prefix}*`)).sort()).toEqual([
          `${prefix}log:calls:grant:g1`,
          `${prefix}meta:calls:grant:g1`,
        ]);
        const [member] = await admin.zrange(`${prefix}log:calls:grant:g1`, '0', '-1');
        expect(member).toMatch(/^call-7:[0-9a-f-]{36}\|1$/);
        for (const key of await admin.keys(`${prefix}*`)) {
          const ttl = await admin.pttl(key);
          expect(ttl).toBeGreaterThan(3_590_000);
          expect(ttl).toBeLessThanOrEqual(3_600_000);
        }
      } finally {
        await store.close();
      }
    });
  });

  describe('when two stores share a prefix', () => {
    it('counts their calls together, as two gateway instances do', async () => {
      const prefix = newPrefix();
      const a = new RedisLimitStore({ url: REDIS_TEST_URL, keyPrefix: prefix });
      const b = new RedisLimitStore({ url: REDIS_TEST_URL, keyPrefix: prefix });
      try {
        expect((await a.consume([request()])).allowed).toBe(true);
        const reservation = await b.consume([request()]);
        expect((await a.consume([request()])).allowed).toBe(false);
        if (reservation.allowed) await a.refund(reservation.reservation);
        expect((await a.consume([request()])).allowed).toBe(true);
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });
  });
});
