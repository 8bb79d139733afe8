/**
 * The in-process EventBus of the embedded mode: single process only, since a second gateway process would never
 * hear this one's messages. Nothing is ever lost in process, so `onReconnect` handlers are never called.
 */
import { AirlockError } from '../errors/airlock-error.js';
import { type BusLogger, deliver, encode } from './deliver.js';
import type { BusHandler, EventBus, Unsubscribe } from './event-bus.js';

export class MemoryEventBus implements EventBus {
  readonly #logger: BusLogger | undefined;
  readonly #channels = new Map<string, Set<BusHandler>>();
  #closed = false;

  constructor(options: { logger?: BusLogger | undefined } = {}) {
    this.#logger = options.logger;
  }

  async publish(channel: string, message: unknown): Promise<boolean> {
    if (this.#closed) return false;
    const json = encode(channel, message, this.#logger);
    if (json === undefined) return false;
    // On a later tick, as over a network: the publisher's call never runs a handler. The handlers subscribed
    // then get it, so one unsubscribed meanwhile does not (rule 2).
    queueMicrotask(() => deliver(this.#channels.get(channel) ?? [], channel, json, this.#logger));
    return true;
  }

  async subscribe(channel: string, handler: BusHandler): Promise<Unsubscribe> {
    if (this.#closed) throw new AirlockError('INTERNAL', 'the event bus is closed');
    let handlers = this.#channels.get(channel);
    if (!handlers) this.#channels.set(channel, (handlers = new Set()));
    // Wrapped, so the same function subscribed twice is two subscriptions.
    const subscription: BusHandler = (message) => handler(message);
    handlers.add(subscription);
    return () => {
      handlers.delete(subscription);
      if (handlers.size === 0 && this.#channels.get(channel) === handlers) this.#channels.delete(channel);
    };
  }

  onReconnect(): Unsubscribe {
    return () => {};
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#channels.clear();
  }
}
