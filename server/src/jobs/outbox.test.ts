import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { createTestDatabase, TEST_DIALECTS, type TestDatabase } from '../../../test/contract/test-databases.js';
import type { Db } from '../db/db.js';
import { AirlockError } from '../errors/airlock-error.js';
import { OutboxRelay, type OutboxRelayOptions, writeOutbox } from './outbox.js';
import { ManualScheduler } from './scheduler.js';
import { outboxRows } from './testing/outbox-rows.js';
import { SpyQueue } from './testing/spy-queue.js';

for (const dialect of TEST_DIALECTS) {
  describe(`outbox on ${dialect}`, () => {
    let database: TestDatabase;
    let queue: SpyQueue;
    let scheduler: ManualScheduler;
    const relays: OutboxRelay[] = [];

    const newRelay = (options: Partial<OutboxRelayOptions> = {}) => {
      const relay = new OutboxRelay({
        db: database.db,
        queue,
        scheduler,
        kinds: { 'slack.post': { attempts: 8, backoff: { type: 'exponential', delayMs: 1000 } }, expire: {} },
        ...options,
      });
      relays.push(relay);
      return relay;
    };
    const rows = () => outboxRows(database.db);

    beforeEach(async () => {
      database = await createTestDatabase(dialect);
      queue = new SpyQueue();
      scheduler = new ManualScheduler();
    });

    afterEach(async () => {
      for (const relay of relays.splice(0)) await relay.close();
      await queue.close();
      await database.destroy();
    });

    describe('writeOutbox', () => {
      it('writes nothing when the transaction rolls back', async () => {
        await expect(
          database.db.transaction(async (tx) => {
            await writeOutbox(tx, { kind: 'slack.post', key: 'slack:post:ap1', payload: { approvalId: 'ap1' } });
            throw new Error('the approval insert failed');
          }),
        ).rejects.toThrow('the approval insert failed');
        expect(await rows()).toEqual([]);
        expect(await newRelay().relay()).toBe(0);
      });

      it('keeps the first undone row of a key, and re-arms a done one', async () => {
        const runAt = Date.parse('2030-01-01T00:00:00Z');
        expect(await writeOutbox(database.db, { kind: 'expire', key: 'expire:ap1', payload: { v: 1 }, runAt })).toBe(true);
        expect(await writeOutbox(database.db, { kind: 'expire', key: 'expire:ap1', payload: { v: 2 }, runAt })).toBe(false);
        expect(await rows()).toMatchObject([{ payload: { v: 1 }, done: false }]);

        await newRelay().relay();
        expect(await writeOutbox(database.db, { kind: 'expire', key: 'expire:ap1', payload: { v: 3 }, runAt: runAt + 1 })).toBe(true);
        expect(await rows()).toMatchObject([{ payload: { v: 3 }, run_at: new Date(runAt + 1), done: false, attempts: 0, done_at: null }]);
      });

      it('refuses a payload JSON cannot carry', async () => {
        await expect(writeOutbox(database.db, { kind: 'bad', payload: undefined })).rejects.toThrow(AirlockError);
      });
    });

    describe('OutboxRelay', () => {
      it('hands committed rows to the queue with their kind options, and marks them done', async () => {
        const runAt = Date.parse('2030-01-01T00:00:00Z');
        await database.db.transaction(async (tx) => {
          await writeOutbox(tx, { kind: 'slack.post', key: 'slack:post:ap1', payload: { approvalId: 'ap1' } });
          await writeOutbox(tx, { kind: 'expire', payload: { approvalId: 'ap1' }, runAt });
        });
        const [, expiry] = await rows();

        // A new relay is what a restarted process runs first: rows committed before the crash are not lost.
        expect(await newRelay().relay()).toBe(2);
        expect(queue.enqueued).toEqual([
          {
            kind: 'slack.post',
            payload: { approvalId: 'ap1' },
            // Due already: it runs at the queue's now, however the database's clock differs from the queue's.
            options: { attempts: 8, backoff: { type: 'exponential', delayMs: 1000 }, key: 'slack:post:ap1' },
          },
          { kind: 'expire', payload: { approvalId: 'ap1' }, options: { key: `outbox:${expiry!.id}`, runAt } },
        ]);
        expect(await rows()).toMatchObject([
          { done: true, attempts: 1, done_at: expect.any(Date) },
          { done: true, attempts: 1, done_at: expect.any(Date) },
        ]);
        expect(await newRelay().relay()).toBe(0);
      });

      it('leaves a row the queue refuses undone, records why, and retries later', async () => {
        await writeOutbox(database.db, { kind: 'slack.post', key: 'slack:post:ap1', payload: { approvalId: 'ap1' } });
        queue.refuse = new Error('Redis did not answer');
        const relay = newRelay();
        expect(await relay.relay()).toBe(0);
        expect(await rows()).toMatchObject([{ done: false, attempts: 1, last_error: 'Redis did not answer' }]);
        expect(scheduler.pending()).toEqual([scheduler.now() + 5000]);

        queue.refuse = undefined;
        await scheduler.advance(5000);
        await relay.relay();
        expect(queue.enqueued).toHaveLength(1);
        expect(await rows()).toMatchObject([{ done: true, attempts: 2, last_error: null }]);
      });

      it('relays in batches until no undone row is left', async () => {
        for (let i = 0; i < 5; i++) await writeOutbox(database.db, { kind: 'expire', payload: { i } });
        expect(await newRelay({ batchSize: 2 }).relay()).toBe(5);
        expect(queue.enqueued.map((job) => job.payload)).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }, { i: 3 }, { i: 4 }]);
      });
    });

    describe('OutboxRelay kinds', () => {
      it('leaves rows of a kind it does not know to a relay that does, and hands them over once told', async () => {
        await writeOutbox(database.db, { kind: 'slack.redraw', key: 'slack:redraw:ap1:decided', payload: { approvalId: 'ap1' } });
        await writeOutbox(database.db, { kind: 'expire', payload: { approvalId: 'ap1' } });
        const relay = newRelay();
        expect(await relay.relay()).toBe(1);
        expect(await rows()).toMatchObject([{ kind: 'slack.redraw', done: false, attempts: 0 }, { kind: 'expire', done: true }]);

        relay.accept({ 'slack.redraw': { attempts: 15 } });
        await expect.poll(async () => (await rows()).map((row) => row.done)).toEqual([true, true]);
        expect(queue.enqueued[1]).toMatchObject({ kind: 'slack.redraw', options: { attempts: 15, key: 'slack:redraw:ap1:decided' } });
      });
    });

    describe('OutboxRelay in the background', () => {
      const age = (id: number, interval: string) => database.db.query(`UPDATE outbox SET created_at = created_at - interval '${interval}' WHERE id = $1`, [id]);
      /** Resolves once the start's own pass is over, so the next sweep is not skipped for a pass under way. */
      const started = async (relay: OutboxRelay) => {
        relay.start();
        await new Promise((resolve) => setImmediate(resolve));
        await relay.relay();
      };

      /** The database as the relay uses it, logging each statement outside a transaction and each transaction's end. */
      const recording = () => {
        const log: string[] = [];
        const db: Db = {
          dialect: database.db.dialect,
          query: (sql, params) => (log.push(sql), database.db.query(sql, params)),
          exec: (sql) => database.db.exec(sql),
          transaction: (fn) => (log.push('BEGIN'), database.db.transaction(fn).finally(() => log.push('END'))),
          close: () => database.db.close(),
        };
        return { db, log };
      };

      it('wakes on a later turn of the event loop: a statement issued right after the wake runs first', async () => {
        await writeOutbox(database.db, { kind: 'expire', payload: { n: 1 } });
        const { db, log } = recording();
        const relay = newRelay({ db });
        relay.wake();
        await db.query('SELECT 1 AS claim');
        await expect.poll(() => queue.enqueued.length).toBe(1);
        expect(log.slice(0, 2)).toEqual(['SELECT 1 AS claim', 'BEGIN']);
      });

      it('hands over what it finds at start, then sweeps up rows left longer than the sweep interval', async () => {
        await writeOutbox(database.db, { kind: 'expire', payload: { n: 'left by a dead process' } });
        const { db, log } = recording();
        await started(newRelay({ db, sweepMs: 10_000 }));
        expect(queue.enqueued).toHaveLength(1);

        // Written by another instance that still has the time to hand it over itself.
        await writeOutbox(database.db, { kind: 'expire', payload: { n: 'fresh' } });
        const passes = log.filter((entry) => entry === 'END').length;
        await scheduler.advance(10_000);
        await expect.poll(() => log.filter((entry) => entry === 'END').length).toBe(passes + 1);
        expect((await rows()).map((row) => row.done)).toEqual([true, false]);

        const [, fresh] = await rows();
        await age(fresh!.id, '10 seconds');
        await scheduler.advance(10_000);
        await expect.poll(async () => (await rows()).map((row) => row.done)).toEqual([true, true]);
        expect(queue.enqueued).toHaveLength(2);
      });

      it('deletes rows done for over a day, checking hourly', async () => {
        for (const n of [1, 2, 3]) await writeOutbox(database.db, { kind: 'expire', payload: { n } });
        await newRelay().relay();
        const [first, second] = await rows();
        const doneAgo = (id: number) => database.db.query(`UPDATE outbox SET done_at = now() - interval '25 hours' WHERE id = $1`, [id]);
        await doneAgo(first!.id);
        const relay = newRelay({ sweepMs: 1_800_000 });
        await started(relay);
        // Each relay() below waits for the sweep under way, which prunes after its pass.
        await scheduler.advance(1_800_000);
        await relay.relay();
        expect((await rows()).map((row) => row.payload)).toEqual([{ n: 2 }, { n: 3 }]);

        await doneAgo(second!.id);
        await scheduler.advance(1_800_000);
        await relay.relay();
        expect(await rows()).toHaveLength(2);
        await scheduler.advance(1_800_000);
        await relay.relay();
        expect((await rows()).map((row) => row.payload)).toEqual([{ n: 3 }]);
      });
    });

    // Only PostgreSQL has other connections: PGlite's one connection runs a pass and a writer one after the other.
    if (dialect === 'postgres') describe('OutboxRelay with other connections writing (PostgreSQL)', () => {
      it('answers a call made during a pass with another pass, which sees the rows committed before the call', async () => {
        await writeOutbox(database.db, { kind: 'expire', payload: { n: 1 } });
        const relay = newRelay();
        let release!: () => void;
        queue.hold = new Promise((resolve) => (release = resolve));
        const started = queue.nextEnqueue();
        const first = relay.relay();
        await started;

        await writeOutbox(database.db, { kind: 'expire', payload: { n: 2 } });
        const second = relay.relay();
        release();
        expect(await first).toBe(1);
        expect(await second).toBe(1);
        expect(queue.enqueued.map((job) => job.payload)).toEqual([{ n: 1 }, { n: 2 }]);
      });

      it('hands each row over once when two instances relay at the same time', async () => {
        for (let i = 0; i < 40; i++) await writeOutbox(database.db, { kind: 'expire', payload: { i } });
        const other = await database.connectAgain();
        const [a, b] = [newRelay({ batchSize: 3 }), newRelay({ db: other, batchSize: 3 })];
        const [byA, byB] = await Promise.all([a.relay(), b.relay()]);
        expect(byA + byB).toBe(40);
        expect(new Set(queue.enqueued.map((job) => job.options?.key)).size).toBe(40);
        expect(queue.enqueued).toHaveLength(40);
      });
    });
  });
}
