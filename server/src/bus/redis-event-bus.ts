/**
 * The EventBus of the scaled mode: Redis pub/sub shared by every gateway instance (PUBLISH→message took 0.03 ms
 * p50 on loopback, infra.md §1.4). Two connections, since a connection in subscriber mode can do nothing else:
 * one publishes, bounded by `publishTimeoutMs` so a Redis outage costs a decision at most that long; the other
 * subscribes and reconnects for as long as it takes. After a reconnect it subscribes to every channel again
 * itself, and only then calls the `onReconnect` handlers, so a re-read they start cannot miss a message.
 */
import { Redis } from 'ioredis';

import { AirlockError } from '../errors/airlock-error.js';
import { type BusLogger, deliver, encode } from './deliver.js';
import type { BusHandler, EventBus, Unsubscribe } from './event-bus.js';

export interface RedisEventBusOptions {
  url: string;
  /** Prepended to every channel; instances that talk to each other use the same. Default `airlock:`. */
  channelPrefix?: string | undefined;
  logger?: BusLogger | undefined;
  /** Longest wait for one PUBLISH, connecting included. Default 1000 ms. */
  publishTimeoutMs?: number | undefined;
  /** Names the two connections in CLIENT LIST (`<name>:pub`, `<name>:sub`). Default `airlock-bus`. */
  connectionName?: string | undefined;
}

interface Subscription {
  handlers: Set<BusHandler>;
  /** Settles once Redis has acknowledged the SUBSCRIBE. */
  active: Promise<unknown>;
}

export class RedisEventBus implements EventBus {
  readonly #prefix: string;
  readonly #logger: BusLogger | undefined;
  readonly #publisher: Redis;
  readonly #subscriber: Redis;
  readonly #subscriptions = new Map<string, Subscription>();
  readonly #reconnectHandlers = new Set<() => void>();
  /** False until the subscriber's first connection; after it, each 'ready' is a reconnect. */
  #connectedOnce = false;
  #connected = false;
  #lastError: Error | undefined;
  #closed = false;

  constructor({
    url,
    channelPrefix = 'airlock:',
    logger,
    publishTimeoutMs = 1000,
    connectionName = 'airlock-bus',
  }: RedisEventBusOptions) {
    this.#prefix = channelPrefix;
    this.#logger = logger;
    this.#publisher = new Redis(url, {
      connectionName: `${connectionName}:pub`,
      commandTimeout: publishTimeoutMs,
      // Fail a queued PUBLISH at the first failed reconnection attempt rather than after 20.
      maxRetriesPerRequest: 0,
    });
    // Each failed publish is reported on its own; the connection's errors would only repeat it.
    this.#publisher.on('error', () => {});
    this.#subscriber = new Redis(url, {
      connectionName: `${connectionName}:sub`,
      // Resubscribed in #ready instead, which knows when it is done.
      autoResubscribe: false,
      // A SUBSCRIBE waits for Redis however long it is away.
      maxRetriesPerRequest: null,
    });
    this.#subscriber.on('error', (error: Error) => (this.#lastError = error));
    this.#subscriber.on('close', () => this.#lost());
    this.#subscriber.on('ready', () => void this.#ready());
    this.#subscriber.on('message', (channel: string, json: string) => {
      const subscription = this.#subscriptions.get(channel.slice(this.#prefix.length));
      // Only channels under our prefix are ever subscribed, so the slice always names one of ours.
      if (subscription) deliver(subscription.handlers, channel, json, this.#logger);
    });
  }

  async publish(channel: string, message: unknown): Promise<boolean> {
    if (this.#closed) return false;
    const json = encode(channel, message, this.#logger);
    if (json === undefined) return false;
    try {
      await this.#publisher.publish(this.#prefix + channel, json);
      return true;
    } catch (err) {
      this.#logger?.warn({ err, channel }, 'event bus: publish failed; subscribers catch up on their next re-read');
      return false;
    }
  }

  async subscribe(channel: string, handler: BusHandler): Promise<Unsubscribe> {
    if (this.#closed) throw new AirlockError('INTERNAL', 'the event bus is closed');
    let subscription = this.#subscriptions.get(channel);
    if (!subscription) {
      subscription = { handlers: new Set(), active: this.#subscriber.subscribe(this.#prefix + channel) };
      this.#subscriptions.set(channel, subscription);
    }
    // Wrapped, so the same function subscribed twice is two subscriptions.
    const own: BusHandler = (message) => handler(message);
    subscription.handlers.add(own);
    const current = subscription;
    try {
      await current.active;
    } catch (error) {
      this.#drop(channel, current, own);
      throw new AirlockError('STORAGE_UNAVAILABLE', `event bus: could not subscribe to ${channel}`, { cause: error });
    }
    return () => this.#drop(channel, current, own);
  }

  onReconnect(handler: () => void): Unsubscribe {
    // Wrapped, as in subscribe.
    const own = () => handler();
    this.#reconnectHandlers.add(own);
    return () => this.#reconnectHandlers.delete(own);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#subscriptions.clear();
    this.#reconnectHandlers.clear();
    // Nothing to flush: a pending PUBLISH fails and is reported as such.
    this.#publisher.disconnect();
    this.#subscriber.disconnect();
  }

  #drop(channel: string, subscription: Subscription, handler: BusHandler): void {
    subscription.handlers.delete(handler);
    if (subscription.handlers.size > 0 || this.#subscriptions.get(channel) !== subscription) return;
    this.#subscriptions.delete(channel);
    this.#subscriber
      .unsubscribe(this.#prefix + channel)
      .catch((err: unknown) => this.#logger?.warn({ err, channel }, 'event bus: unsubscribe failed'));
  }

  #lost(): void {
    if (!this.#connected || this.#closed) return;
    this.#connected = false;
    this.#logger?.warn({ err: this.#lastError }, 'event bus: subscriber connection lost; reconnecting');
  }

  async #ready(): Promise<void> {
    this.#connected = true;
    const reconnected = this.#connectedOnce;
    this.#connectedOnce = true;
    if (!reconnected || this.#closed) return;
    const channels = [...this.#subscriptions.keys()].map((channel) => this.#prefix + channel);
    try {
      if (channels.length > 0) await this.#subscriber.subscribe(...channels);
    } catch (err) {
      // Lost again before Redis answered: the next 'ready' tries again.
      this.#logger?.warn({ err }, 'event bus: resubscribing failed');
      return;
    }
    this.#logger?.warn(
      { channels: channels.length },
      'event bus: subscriber reconnected; messages may have been missed',
    );
    for (const handler of this.#reconnectHandlers) {
      try {
        handler();
      } catch (err) {
        this.#logger?.error({ err }, 'event bus: an onReconnect handler failed');
      }
    }
  }
}
