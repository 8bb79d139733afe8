import { describe, expect, it } from 'vitest';
import { describeLimitStoreContract } from '../../../test/contract/limit-store.contract.js';
import { ManualClock } from '../util/clock.js';
import type { LimitRequest } from './limit-store.js';
import { MemoryLimitStore } from './memory-limit-store.js';

describeLimitStoreContract('memory', (clock) => new MemoryLimitStore({ clock }));

const request = (key: string, windowMs = 1000): LimitRequest => ({
  key,
  counter: 'c',
  windowMs,
  max: 1_000_000,
  cost: 1,
  onExceed: 'deny',
  rule: '/all_tools/limits/0',
});

describe('MemoryLimitStore', () => {
  describe('when keys stop being called', () => {
    it('forgets their logs once their entries have left the window', async () => {
      const clock = new ManualClock();
      const store = new MemoryLimitStore({ clock });
      for (let i = 0; i < 1000; i++) await store.consume([request(`session:${i}`)]);
      expect(store.stats()).toEqual({ keys: 1000, entries: 1000 });
      clock.advance(1000);
      for (let i = 0; i < 1000; i++) await store.consume([request('busy', 60_000)]);
      expect(store.stats()).toEqual({ keys: 1, entries: 1000 });
    });
  });

  describe('when one key is called for a long time', () => {
    it('keeps only the entries inside its window', async () => {
      const clock = new ManualClock();
      const store = new MemoryLimitStore({ clock });
      for (let i = 0; i < 10_000; i++) {
        await store.consume([request('busy')]);
        clock.advance(10);
      }
      expect(store.stats()).toEqual({ keys: 1, entries: 100 });
    });
  });

  describe('when the clock steps back', () => {
    it('keeps counting from the latest time it saw', async () => {
      const clock = new ManualClock();
      const store = new MemoryLimitStore({ clock });
      const one = { ...request('k'), max: 1 };
      expect((await store.consume([one])).allowed).toBe(true);
      clock.advance(-5000);
      expect(await store.consume([one])).toMatchObject({ allowed: false, retryAfterMs: 1000 });
      clock.advance(5000 + 1000);
      expect((await store.consume([one])).allowed).toBe(true);
    });
  });
});
