import { describe, expect, it } from 'vitest';

import { describeEventBusContract } from '../../../test/contract/event-bus.contract.js';
import { MemoryEventBus } from './memory-event-bus.js';

describeEventBusContract('memory', () => new MemoryEventBus());

describe('MemoryEventBus', () => {
  it('reports a message JSON cannot carry and a failing subscriber through its logger', async () => {
    const logged: string[] = [];
    const logger = { warn: () => {}, error: (_: object, message: string) => void logged.push(message) };
    const bus = new MemoryEventBus({ logger: logger as never });
    let delivered!: () => void;
    const done = new Promise<void>((resolve) => (delivered = resolve));
    await bus.subscribe('decisions', () => {
      delivered();
      throw new Error('broken');
    });
    expect(await bus.publish('decisions', () => {})).toBe(false);
    expect(await bus.publish('decisions', {})).toBe(true);
    await done;
    expect(logged).toEqual(['event bus: message is not JSON; not published', 'event bus: a subscriber failed on a message']);
    await bus.close();
  });
});
