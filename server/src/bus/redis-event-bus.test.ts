import { randomUUID } from 'node:crypto';

import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { describeEventBusContract } from '../../../test/contract/event-bus.contract.js';
import { REDIS_TEST_URL, storeEnabled } from '../../../test/contract/limit-store.contract.js';
import type { BusLogger } from './deliver.js';
import { RedisEventBus, type RedisEventBusOptions } from './redis-event-bus.js';

/** Collects what a bus logs, by message. */
function recordingLogger(): { logger: BusLogger; messages: string[] } {
  const messages: string[] = [];
  const log = (_: object, message: string) => void messages.push(message);
  return { logger: { warn: log, error: log } as unknown as BusLogger, messages };
}

/** Subscribes to `channel`; once subscribed, answers the first message it will get (then unsubscribes). */
async function firstMessage(bus: RedisEventBus, channel: string): Promise<{ message: Promise<unknown> }> {
  let resolve!: (message: unknown) => void;
  const message = new Promise<unknown>((r) => (resolve = r));
  const unsubscribe = await bus.subscribe(channel, resolve);
  return { message: message.finally(unsubscribe) };
}

describe.skipIf(!storeEnabled('redis'))('RedisEventBus', () => {
  let admin: Redis;
  const buses: RedisEventBus[] = [];

  /** A bus on channels of its own (a fresh prefix unless given), so concurrent test runs never hear each other. */
  const newBus = (options: Partial<RedisEventBusOptions> = {}) => {
    const bus = new RedisEventBus({ url: REDIS_TEST_URL, channelPrefix: `airlock:test:${randomUUID()}:`, ...options });
    buses.push(bus);
    return bus;
  };

  beforeAll(() => {
    admin = new Redis(REDIS_TEST_URL);
  });

  afterEach(async () => {
    await Promise.all(buses.splice(0).map((bus) => bus.close()));
  });

  afterAll(async () => {
    await admin.quit();
  });

  describeEventBusContract('redis', () => newBus());

  describe('when two instances share a channel prefix', () => {
    it('delivers what either publishes to the subscribers of both', async () => {
      const channelPrefix = `airlock:test:${randomUUID()}:`;
      const a = newBus({ channelPrefix });
      const b = newBus({ channelPrefix });
      const atA = await firstMessage(a, 'decisions');
      const atB = await firstMessage(b, 'decisions');
      expect(await b.publish('decisions', { approvalId: 'ap1', status: 'approved' })).toBe(true);
      expect(await atA.message).toEqual({ approvalId: 'ap1', status: 'approved' });
      expect(await atB.message).toEqual({ approvalId: 'ap1', status: 'approved' });
    });

    it('hears nothing from a bus on another prefix', async () => {
      const a = newBus();
      const b = newBus();
      const received: unknown[] = [];
      await a.subscribe('decisions', (message) => void received.push(message));
      const barrier = await firstMessage(a, 'barrier');
      await b.publish('decisions', { from: 'b' });
      // Published after b's message was dispatched, on a channel a hears: once it is in, b's would have been too.
      await a.publish('barrier', {});
      await barrier.message;
      expect(received).toEqual([]);
    });
  });

  describe('when the subscriber connection drops', () => {
    it('resubscribes, calls the onReconnect handlers, and delivers what is published afterwards', async () => {
      const connectionName = `airlock-test-${randomUUID()}`;
      const { logger, messages } = recordingLogger();
      const bus = newBus({ connectionName, logger });
      const received: unknown[] = [];
      await bus.subscribe('decisions', (message) => void received.push(message));
      let reconnects = 0;
      let removedCalls = 0;
      const reconnected = new Promise<void>((resolve) =>
        bus.onReconnect(() => {
          reconnects += 1;
          resolve();
        }),
      );
      bus.onReconnect(() => (removedCalls += 1))();

      // Redis cannot be restarted here; the server closing the connection looks the same to the client. Only
      // this bus's subscriber is killed (by its name), not other pub/sub clients of the shared server.
      const clients = (await admin.call('CLIENT', 'LIST', 'TYPE', 'pubsub')) as string;
      const line = clients.split('\n').find((l) => l.includes(` name=${connectionName}:sub `));
      const id = /^id=(\d+)/.exec(line ?? '')?.[1];
      expect(id).toBeDefined();
      expect(await admin.call('CLIENT', 'KILL', 'ID', id!)).toBe(1);

      await reconnected;
      expect(await bus.publish('decisions', { approvalId: 'ap1', status: 'approved' })).toBe(true);
      while (received.length === 0) await new Promise((resolve) => setImmediate(resolve));
      expect(received).toEqual([{ approvalId: 'ap1', status: 'approved' }]);
      expect([reconnects, removedCalls]).toEqual([1, 0]);
      expect(messages).toEqual([
        'event bus: subscriber connection lost; reconnecting',
        'event bus: subscriber reconnected; messages may have been missed',
      ]);
    });
  });

  describe('when Redis cannot be reached', () => {
    it('resolves publish to false within publishTimeoutMs and reports it', async () => {
      const { logger, messages } = recordingLogger();
      // Port 1 on loopback: nothing listens there.
      const bus = newBus({ url: 'redis://127.0.0.1:1', publishTimeoutMs: 200, logger });
      expect(await bus.publish('decisions', { approvalId: 'ap1' })).toBe(false);
      expect(messages).toContain('event bus: publish failed; subscribers catch up on their next re-read');
    });
  });
});
