/**
 * The decision fan-out between gateway instances (DESIGN.md §2): after a decision commits, the deciding instance
 * publishes `{ approvalId, status }`, and every instance re-reads that approval and wakes the calls it holds. A
 * message is a hint, never the truth (the row is), and delivery is at most once: a subscriber that was
 * disconnected misses what was published meanwhile. So subscribers re-read their pending state from the database
 * when `onReconnect` fires, and on a slow periodic poll besides. Two implementations: in-process (one gateway
 * process) and Redis pub/sub (several); both pass `test/contract/event-bus.contract.ts`.
 *
 * Implementations MUST:
 * 1. Deliver every message published on a channel after `subscribe` resolved to that subscription's handler, on
 *    every instance sharing the bus (the publishing one included), in the order one instance published them, as
 *    a copy JSON would carry (each handler its own).
 * 2. Never deliver a message of another channel, nor one to a handler whose unsubscribe has been called.
 * 3. Run handlers outside the publisher's call and contain their failures: a handler that throws or rejects is
 *    reported, and the other handlers still get the message.
 * 4. Never reject `publish`, which sits on the decision path: it resolves true once the message was handed to the
 *    bus, false when it could not be (bus unreachable or closed, message not JSON), and reports the failure itself.
 * 5. Call the `onReconnect` handlers once subscriptions are active again after a gap in which messages may have
 *    been lost.
 * 6. `close()` ends the subscriptions and releases connections; `publish` after it resolves false and
 *    `subscribe` rejects.
 */

export type BusHandler = (message: unknown) => void | Promise<void>;

/** Removes the handler it was returned for; calling it twice is harmless. */
export type Unsubscribe = () => void;

export interface EventBus {
  publish(channel: string, message: unknown): Promise<boolean>;
  /** Resolves once messages published from then on reach `handler` (rule 1). */
  subscribe(channel: string, handler: BusHandler): Promise<Unsubscribe>;
  onReconnect(handler: () => void): Unsubscribe;
  close(): Promise<void>;
}
