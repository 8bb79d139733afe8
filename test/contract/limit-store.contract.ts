/**
 * The LimitStore contract (server/src/limits/limit-store.ts) as one suite every store runs with its own factory.
 * Time is a ManualClock handed to the factory: tests advance it, never sleep. Backend-only behaviour (processes,
 * outages, the Redis clock) is tested beside each store.
 */
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LimitCheck, LimitRequest, LimitStore } from '../../server/src/limits/limit-store.js';
import { ManualClock } from '../../server/src/util/clock.js';

/** Backends to test, `STORES=memory,redis` (default: both; Redis at `REDIS_URL` or loopback). */
export function storeEnabled(store: 'memory' | 'redis'): boolean {
  return (process.env['STORES'] ?? 'memory,redis').split(',').includes(store);
}

export const REDIS_TEST_URL = process.env['REDIS_URL'] || 'redis://127.0.0.1:6379';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

function limit(overrides: Partial<LimitRequest> = {}): LimitRequest {
  return {
    key: 'calls:grant:g1',
    counter: 'calls',
    windowMs: MINUTE,
    max: 3,
    cost: 1,
    onExceed: 'deny',
    rule: '/all_tools/limits/0',
    ...overrides,
  };
}

function reservationOf(check: LimitCheck): string {
  if (!check.allowed) throw new Error(`expected an admission, got a denial by ${check.exceeded.rule}`);
  return check.reservation;
}

export function describeLimitStoreContract(
  name: string,
  factory: (clock: ManualClock) => Promise<LimitStore> | LimitStore,
): void {
  describe(`LimitStore contract: ${name}`, () => {
    let clock: ManualClock;
    let store: LimitStore;
    /** Moves the clock to `ms` after the test's start. */
    let at: (ms: number) => void;

    beforeEach(async () => {
      clock = new ManualClock();
      const start = clock.now();
      at = (ms) => clock.advance(start + ms - clock.now());
      store = await factory(clock);
    });

    afterEach(async () => {
      await store.close();
    });

    const admitted = async (requests: LimitRequest[]) => (await store.consume(requests)).allowed;

    describe('when calls come within one window', () => {
      it('admits exactly max calls and denies the next', async () => {
        for (let i = 0; i < 3; i++) expect(await admitted([limit()])).toBe(true);
        expect(await store.consume([limit()])).toEqual({
          allowed: false,
          exceeded: limit(),
          retryAfterMs: MINUTE,
        });
      });

      it('admits a call that matches no limit', async () => {
        expect(await store.consume([])).toMatchObject({ allowed: true });
      });
    });

    describe('when time passes', () => {
      it('counts a rolling window, not a fixed one', async () => {
        at(0);
        expect(await admitted([limit()])).toBe(true);
        at(30 * SECOND);
        expect(await admitted([limit()])).toBe(true);
        at(59 * SECOND);
        expect(await admitted([limit()])).toBe(true);
        at(59.9 * SECOND);
        expect(await store.consume([limit()])).toMatchObject({ allowed: false, retryAfterMs: 100 });
        at(60.001 * SECOND);
        expect(await admitted([limit()])).toBe(true);
        // A fixed window would have reset at 60 s; the calls at 30 s and 59 s still count until 90 s and 119 s.
        at(60.002 * SECOND);
        expect(await store.consume([limit()])).toMatchObject({ allowed: false, retryAfterMs: 29_998 });
        at(90 * SECOND);
        expect(await admitted([limit()])).toBe(true);
      });

      it('stops counting an entry exactly windowMs after its admission', async () => {
        const one = limit({ max: 1 });
        expect(await admitted([one])).toBe(true);
        at(MINUTE - 1);
        expect(await store.consume([one])).toMatchObject({ allowed: false, retryAfterMs: 1 });
        at(MINUTE);
        expect(await admitted([one])).toBe(true);
      });
    });

    describe('when calls are denied', () => {
      it('does not count them', async () => {
        const two = limit({ max: 2 });
        expect(await admitted([two])).toBe(true);
        expect(await admitted([two])).toBe(true);
        for (let t = 0; t < MINUTE; t += 100) {
          at(t);
          expect(await admitted([two])).toBe(false);
        }
        at(MINUTE);
        expect(await admitted([two])).toBe(true);
        expect(await admitted([two])).toBe(true);
        expect(await admitted([two])).toBe(false);
      });
    });

    describe('when a call matches several limits', () => {
      const wide = limit({ key: 'all:grant:g1', counter: 'all', max: 5, rule: '/all_tools/limits/0' });
      const narrow = limit({ key: 'charge:grant:g1', counter: 'charge', max: 1, rule: '/tools/charge/limits/0' });

      it('records none of them when one is full', async () => {
        expect(await admitted([wide, narrow])).toBe(true);
        at(10 * SECOND);
        expect(await store.consume([wide, narrow])).toEqual({
          allowed: false,
          exceeded: narrow,
          retryAfterMs: 50 * SECOND,
        });
        // The denial left `wide` at one entry: four more fit.
        for (let i = 0; i < 4; i++) expect(await admitted([wide])).toBe(true);
        expect(await admitted([wide])).toBe(false);
      });

      it('names a deny limit before an approval one, and waits for the last to fit', async () => {
        const approval = limit({ key: 'day:grant:g1', windowMs: 24 * HOUR, max: 1, onExceed: 'require_approval' });
        const deny = limit({ key: 'minute:grant:g1', max: 1 });
        expect(await admitted([approval, deny])).toBe(true);
        expect(await store.consume([approval, deny])).toEqual({
          allowed: false,
          exceeded: deny,
          retryAfterMs: 24 * HOUR,
        });
      });

      it('names the limit with the longest wait when all have the same on_exceed', async () => {
        const minute = limit({ key: 'minute:grant:g1', max: 1 });
        const hour = limit({ key: 'hour:grant:g1', windowMs: HOUR, max: 1 });
        expect(await admitted([minute, hour])).toBe(true);
        expect(await store.consume([minute, hour])).toEqual({ allowed: false, exceeded: hour, retryAfterMs: HOUR });
      });
    });

    describe('when limits share a counter (one key)', () => {
      const perMinute = limit({ max: 3 });
      const perHour = limit({ windowMs: HOUR, max: 5, rule: '/tools/x/limits/0' });

      it('records the call once and checks each window against that one count', async () => {
        for (let i = 0; i < 3; i++) expect(await admitted([perMinute, perHour])).toBe(true);
        expect(await store.consume([perMinute, perHour])).toMatchObject({ allowed: false, exceeded: perMinute });
        at(MINUTE);
        expect(await admitted([perMinute, perHour])).toBe(true);
        expect(await admitted([perMinute, perHour])).toBe(true);
        expect(await store.consume([perMinute, perHour])).toEqual({
          allowed: false,
          exceeded: perHour,
          retryAfterMs: HOUR - MINUTE,
        });
      });

      it('records the largest cost among the requests on the key', async () => {
        const count = limit({ max: 10 });
        const spend = limit({ max: 10, cost: 5, rule: '/tools/x/limits/1' });
        expect(await admitted([count, spend])).toBe(true);
        expect(await admitted([count, spend])).toBe(true);
        expect(await admitted([count])).toBe(false);
      });

      it('keeps entries for the longest window admitted on the key', async () => {
        expect(await admitted([limit({ windowMs: HOUR, max: 2 })])).toBe(true);
        at(2 * MINUTE);
        // A one-minute limit on the same key must not drop the entry the hour still counts.
        expect(await admitted([limit({ max: 10 })])).toBe(true);
        at(3 * MINUTE);
        expect(await store.consume([limit({ windowMs: HOUR, max: 2 })])).toMatchObject({
          allowed: false,
          retryAfterMs: HOUR - 3 * MINUTE,
        });
      });
    });

    describe('when calls have weights (increment_from)', () => {
      const spend = (cost: number) => limit({ key: 'spend:grant:g1', counter: 'spend', max: 100, cost });

      it('admits while the sum of admitted weights fits max', async () => {
        expect(await admitted([spend(60)])).toBe(true);
        at(SECOND);
        expect(await store.consume([spend(50)])).toMatchObject({ allowed: false, retryAfterMs: 59 * SECOND });
        expect(await admitted([spend(40)])).toBe(true);
        expect(await admitted([spend(0)])).toBe(true);
        expect(await admitted([spend(1)])).toBe(false);
      });

      it('gives the exact time when enough weight has left the window', async () => {
        const ten = (cost: number) => limit({ max: 10, cost });
        expect(await admitted([ten(4)])).toBe(true);
        at(10 * SECOND);
        expect(await admitted([ten(3)])).toBe(true);
        at(20 * SECOND);
        expect(await admitted([ten(3)])).toBe(true);
        at(30 * SECOND);
        // 5 must fit: the 4 leaving at 60 s is not enough (6 + 5 > 10), the 3 leaving at 70 s is.
        expect(await store.consume([ten(5)])).toMatchObject({ allowed: false, retryAfterMs: 40 * SECOND });
        at(70 * SECOND - 1);
        expect(await admitted([ten(5)])).toBe(false);
        at(70 * SECOND);
        expect(await admitted([ten(5)])).toBe(true);
      });

      it('never fits a cost above max', async () => {
        expect(await store.consume([spend(101)])).toMatchObject({ allowed: false, retryAfterMs: Infinity });
        expect(await admitted([spend(100)])).toBe(true);
      });
    });

    describe('when a reservation is refunded', () => {
      it('gives the quota back', async () => {
        const one = limit({ max: 1 });
        const reservation = reservationOf(await store.consume([one]));
        expect(await admitted([one])).toBe(false);
        await store.refund(reservation);
        expect(await admitted([one])).toBe(true);
        expect(await admitted([one])).toBe(false);
      });

      it('gives it back once however often it is called', async () => {
        const two = limit({ max: 2 });
        const first = reservationOf(await store.consume([two]));
        expect(await admitted([two])).toBe(true);
        await store.refund(first);
        await store.refund(first);
        expect(await admitted([two])).toBe(true);
        expect(await admitted([two])).toBe(false);
      });

      it('gives back the weight on every key the call was recorded on', async () => {
        const a = limit({ key: 'a', max: 10, cost: 7 });
        const b = limit({ key: 'b', max: 1 });
        const reservation = reservationOf(await store.consume([a, b]));
        await store.refund(reservation);
        expect(await admitted([limit({ key: 'a', max: 10, cost: 10 }), b])).toBe(true);
      });

      it('changes nothing once the entries have left the window', async () => {
        const two = limit({ max: 2 });
        const old = reservationOf(await store.consume([two]));
        at(MINUTE);
        expect(await admitted([two])).toBe(true);
        expect(await admitted([two])).toBe(true);
        await store.refund(old);
        expect(await admitted([two])).toBe(false);
      });
    });

    describe('when keys differ', () => {
      it('counts each key on its own', async () => {
        const g1 = limit({ key: 'calls:grant:g1', max: 1 });
        const g2 = limit({ key: 'calls:grant:g2', max: 1 });
        expect(await admitted([g1])).toBe(true);
        expect(await admitted([g2])).toBe(true);
        expect(await admitted([g1])).toBe(false);
        expect(await admitted([g2])).toBe(false);
      });
    });

    describe('when calls are concurrent', () => {
      it('admits exactly max of 1000 concurrent calls', async () => {
        const hundred = limit({ max: 100 });
        const checks = await Promise.all(Array.from({ length: 1000 }, () => store.consume([hundred])));
        expect(checks.filter((check) => check.allowed)).toHaveLength(100);
      });

      it('admits exactly the tightest limit of 1000 concurrent calls over two limits', async () => {
        const wide = limit({ key: 'wide', max: 150 });
        const narrow = limit({ key: 'narrow', max: 100 });
        const checks = await Promise.all(Array.from({ length: 1000 }, () => store.consume([wide, narrow])));
        expect(checks.filter((check) => check.allowed)).toHaveLength(100);
        // The 900 denials recorded nothing on `wide`: 50 more fit.
        const more = await Promise.all(Array.from({ length: 100 }, () => store.consume([wide])));
        expect(more.filter((check) => check.allowed)).toHaveLength(50);
      });
    });

    describe('when a request is invalid', () => {
      it.each([
        ['a negative cost', { cost: -1 }],
        ['a NaN cost', { cost: Number.NaN }],
        ['a zero window', { windowMs: 0 }],
        ['an infinite max', { max: Infinity }],
        ['an empty key', { key: '' }],
      ])('rejects %s as an internal error', async (_, overrides) => {
        await expect(store.consume([limit(overrides)])).rejects.toMatchObject({ code: 'INTERNAL' });
      });
    });

    describe('against a reference model', () => {
      let runs = 0;

      it('agrees on every decision and retry time for random call sequences', async () => {
        await fc.assert(
          fc.asyncProperty(fc.array(operation, { minLength: 1, maxLength: 40 }), async (operations) => {
            const run = `run${runs++}:`;
            const model = new ReferenceLog();
            const reservations: Array<{ store: string; model: number }> = [];
            for (const op of operations) {
              if (op.kind === 'advance') {
                clock.advance(op.ms);
              } else if (op.kind === 'refund') {
                const reservation = reservations[op.pick % Math.max(reservations.length, 1)];
                if (!reservation) continue;
                await store.refund(reservation.store);
                model.refund(reservation.model);
              } else {
                const requests = op.limits.map((l) =>
                  limit({ windowMs: KEYS[l.key].windowMs, key: run + KEYS[l.key].key, max: l.max, cost: l.cost }),
                );
                const expected = model.consume(requests, clock.now());
                const actual = await store.consume(requests);
                expect(actual.allowed).toBe(expected.allowed);
                if (actual.allowed && expected.allowed) {
                  reservations.push({ store: actual.reservation, model: expected.reservation });
                }
                if (!actual.allowed && !expected.allowed) {
                  expect(actual.retryAfterMs).toBe(expected.retryAfterMs);
                  expect(expected.violated).toContain(actual.exceeded);
                }
              }
            }
          }),
          { numRuns: 100 },
        );
      });
    });
  });
}

/** Two keys with one window each, so the model can be the plain definition (shared windows are tested above). */
const KEYS = [
  { key: 'short', windowMs: 1000 },
  { key: 'long', windowMs: 5000 },
] as const;

const operation = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      // Steps that land on, just before and just after the windows' edges.
      ms: fc.constantFrom(0, 1, 499, 500, 999, 1000, 1001, 2500),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('refund' as const), pick: fc.nat() }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('consume' as const),
      limits: fc.uniqueArray(
        fc.record({
          key: fc.constantFrom(0, 1),
          max: fc.integer({ min: 0, max: 5 }),
          cost: fc.integer({ min: 0, max: 3 }),
        }),
        { minLength: 1, maxLength: 2, selector: (l) => l.key },
      ),
    }),
  },
);

/** The definition, computed the slow way: every admitted entry is kept, every window summed from scratch. */
class ReferenceLog {
  #entries: Array<{ key: string; time: number; weight: number; reservation: number }> = [];
  #next = 0;

  consume(requests: LimitRequest[], now: number) {
    const weightAt = (request: LimitRequest, time: number) =>
      this.#entries
        .filter((e) => e.key === request.key && e.time > time - request.windowMs && e.time <= time)
        .reduce((sum, e) => sum + e.weight, 0);
    const violated = requests.filter((r) => weightAt(r, now) + r.cost > r.max);
    if (violated.length === 0) {
      const reservation = this.#next++;
      for (const r of requests) {
        if (r.cost > 0) this.#entries.push({ key: r.key, time: now, weight: r.cost, reservation });
      }
      return { allowed: true as const, reservation };
    }
    // The first moment, among the times entries leave, at which the request fits without new admissions.
    const retryAfter = (r: LimitRequest) => {
      const leaving = this.#entries
        .filter((e) => e.key === r.key && e.time > now - r.windowMs)
        .map((e) => e.time + r.windowMs - now);
      const fits = leaving.sort((a, b) => a - b).find((wait) => weightAt(r, now + wait) + r.cost <= r.max);
      return fits ?? Infinity;
    };
    return { allowed: false as const, violated, retryAfterMs: Math.max(...violated.map(retryAfter)) };
  }

  refund(reservation: number): void {
    this.#entries = this.#entries.filter((e) => e.reservation !== reservation);
  }
}
