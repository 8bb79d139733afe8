/**
 * The embedded limit store: sliding logs in this process's memory. Single process only — two gateway processes
 * with memory stores each admit `max`; run them against Redis instead. Atomicity is free here: a check-and-record
 * runs without awaiting, so no other call interleaves. Memory is bounded by the entries inside each key's longest
 * window; logs of keys nobody calls any more are swept a few per call.
 */
import { systemClock, type Clock } from '../util/clock.js';
import { denial, type Violation } from './denial.js';
import { groupRequests } from './group-requests.js';
import type { LimitCheck, LimitRequest, LimitStore } from './limit-store.js';
import { decodeReservation, encodeReservation, type ReservedEntry } from './reservation.js';
import { SlidingLog } from './sliding-log.js';

/** Logs looked at per call by the sweep: enough to outpace key creation, which is at most one per request. */
const SWEEP_PER_CALL = 2;

export interface MemoryLimitStoreOptions {
  /** Defaults to the system clock. */
  clock?: Clock | undefined;
}

export class MemoryLimitStore implements LimitStore {
  readonly #clock: Clock;
  readonly #logs = new Map<string, SlidingLog>();
  #sweep: Iterator<[string, SlidingLog]> = this.#logs.entries();
  /** A wall clock can step back (NTP); entries must stay in time order, so time never goes back here. */
  #lastNow = -Infinity;
  #nextId = 0;

  constructor({ clock = systemClock }: MemoryLimitStoreOptions = {}) {
    this.#clock = clock;
  }

  async consume(requests: readonly LimitRequest[]): Promise<LimitCheck> {
    const now = (this.#lastNow = Math.max(this.#lastNow, this.#clock.now()));
    const groups = groupRequests(requests);

    const violations: Violation[] = [];
    for (const group of groups) {
      const log = this.#logs.get(group.key);
      if (log) {
        log.prune(now - Math.max(log.retentionMs, group.longestWindowMs));
        if (log.size === 0) this.#logs.delete(group.key);
      }
      for (const request of group.requests) {
        const cutoff = now - request.windowMs;
        const used = log?.weightSince(cutoff) ?? 0;
        if (used + group.weight <= request.max) continue;
        const fitsAt = log?.timeWhenFits(cutoff, used, group.weight, request.max);
        violations.push({ request, retryAfterMs: fitsAt === undefined ? Infinity : fitsAt + request.windowMs - now });
      }
    }
    if (violations.length > 0) return denial(violations);

    const reserved: ReservedEntry[] = [];
    for (const group of groups) {
      if (group.weight === 0) continue;
      let log = this.#logs.get(group.key);
      if (!log) this.#logs.set(group.key, (log = new SlidingLog()));
      const id = this.#nextId++;
      log.append(now, group.weight, id);
      log.retentionMs = Math.max(log.retentionMs, group.longestWindowMs);
      reserved.push([group.key, String(id)]);
    }
    this.#sweepIdle(now);
    return { allowed: true, reservation: encodeReservation(reserved) };
  }

  async refund(reservation: string): Promise<void> {
    for (const [key, id] of decodeReservation(reservation)) {
      const log = this.#logs.get(key);
      if (log?.remove(Number(id)) && log.size === 0) this.#logs.delete(key);
    }
  }

  async close(): Promise<void> {
    this.#logs.clear();
  }

  /** Keys and entries held, for tests and metrics. O(keys). */
  stats(): { keys: number; entries: number } {
    let entries = 0;
    for (const log of this.#logs.values()) entries += log.size;
    return { keys: this.#logs.size, entries };
  }

  /** Deletes logs whose newest entry has left their longest window; a deleted key's next call starts afresh. */
  #sweepIdle(now: number): void {
    for (let i = 0; i < SWEEP_PER_CALL; i++) {
      let next = this.#sweep.next();
      if (next.done) {
        this.#sweep = this.#logs.entries();
        next = this.#sweep.next();
        if (next.done) return;
      }
      const [key, log] = next.value;
      if (log.newestTime <= now - log.retentionMs) this.#logs.delete(key);
    }
  }
}
