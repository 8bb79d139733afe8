/**
 * The EventBus contract (server/src/bus/event-bus.ts, rules 1–4 and 6) as one suite every bus runs with its own
 * factory. Nothing sleeps: "not delivered" is checked behind a barrier, a later message on a subscribed channel
 * of the same publisher, which arrives after everything published before it (rule 1). Rule 5 (reconnects) needs
 * a connection to drop and is tested beside the Redis bus.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { EventBus } from '../../server/src/bus/event-bus.js';

/** Records what a handler received; `until(n)` resolves once it has n messages. */
class Inbox {
  readonly messages: unknown[] = [];
  #waiters: Array<{ n: number; resolve: () => void }> = [];

  readonly handler = (message: unknown): void => {
    this.messages.push(message);
    this.#waiters = this.#waiters.filter((w) => (this.messages.length >= w.n ? (w.resolve(), false) : true));
  };

  until(n: number): Promise<void> {
    if (this.messages.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ n, resolve }));
  }
}

export function describeEventBusContract(name: string, factory: () => Promise<EventBus> | EventBus): void {
  describe(`EventBus contract: ${name}`, () => {
    let bus: EventBus;

    beforeEach(async () => {
      bus = await factory();
    });

    afterEach(async () => {
      await bus.close();
    });

    it('delivers each message to every subscriber of its channel, in order, each a copy (rule 1)', async () => {
      const first = new Inbox();
      const second = new Inbox();
      await bus.subscribe('decisions', first.handler);
      await bus.subscribe('decisions', second.handler);
      const message = { approvalId: 'ap1', status: 'approved', tags: ['x'] };
      expect(await bus.publish('decisions', message)).toBe(true);
      message.tags.push('changed after publish');
      expect(await bus.publish('decisions', { approvalId: 'ap2', status: 'rejected' })).toBe(true);
      await first.until(2);
      await second.until(2);
      expect(first.messages).toEqual([
        { approvalId: 'ap1', status: 'approved', tags: ['x'] },
        { approvalId: 'ap2', status: 'rejected' },
      ]);
      expect(second.messages).toEqual(first.messages);
      expect(second.messages[0]).not.toBe(first.messages[0]);
    });

    it('keeps channels apart (rule 2)', async () => {
      const decisions = new Inbox();
      await bus.subscribe('decisions', decisions.handler);
      await bus.publish('console', { seq: 1 });
      await bus.publish('decisions', { barrier: true });
      await decisions.until(1);
      expect(decisions.messages).toEqual([{ barrier: true }]);
    });

    it('stops delivering to a handler once it unsubscribes, and only to it (rule 2)', async () => {
      const leaving = new Inbox();
      const staying = new Inbox();
      const unsubscribe = await bus.subscribe('decisions', leaving.handler);
      await bus.subscribe('decisions', staying.handler);
      await bus.publish('decisions', { n: 1 });
      await leaving.until(1);
      unsubscribe();
      unsubscribe();
      await bus.publish('decisions', { n: 2 });
      await staying.until(2);
      expect(leaving.messages).toEqual([{ n: 1 }]);
      expect(staying.messages).toEqual([{ n: 1 }, { n: 2 }]);
    });

    it('treats the same function subscribed twice as two subscriptions (rule 2)', async () => {
      const inbox = new Inbox();
      const unsubscribe = await bus.subscribe('decisions', inbox.handler);
      await bus.subscribe('decisions', inbox.handler);
      unsubscribe();
      await bus.publish('decisions', { n: 1 });
      await bus.publish('decisions', { barrier: true });
      await inbox.until(2);
      expect(inbox.messages).toEqual([{ n: 1 }, { barrier: true }]);
    });

    it('runs handlers outside publish and contains their failures (rule 3)', async () => {
      const inbox = new Inbox();
      let inPublish = false;
      let ranInPublish = false;
      await bus.subscribe('decisions', () => {
        ranInPublish ||= inPublish;
        throw new Error('a broken subscriber');
      });
      await bus.subscribe('decisions', async () => {
        throw new Error('a broken async subscriber');
      });
      await bus.subscribe('decisions', inbox.handler);
      inPublish = true;
      const published = bus.publish('decisions', { n: 1 });
      inPublish = false;
      expect(await published).toBe(true);
      await bus.publish('decisions', { n: 2 });
      await inbox.until(2);
      expect(ranInPublish).toBe(false);
    });

    it('resolves publish to false for a message JSON cannot carry, and never rejects (rule 4)', async () => {
      const inbox = new Inbox();
      await bus.subscribe('decisions', inbox.handler);
      expect(await bus.publish('decisions', undefined)).toBe(false);
      expect(await bus.publish('decisions', { id: 1n })).toBe(false);
      await bus.publish('decisions', { barrier: true });
      await inbox.until(1);
      expect(inbox.messages).toEqual([{ barrier: true }]);
    });

    it('refuses to subscribe after close, and publish answers false (rule 6)', async () => {
      await bus.close();
      expect(await bus.publish('decisions', { n: 1 })).toBe(false);
      await expect(bus.subscribe('decisions', () => {})).rejects.toThrow(/closed/);
    });
  });
}
