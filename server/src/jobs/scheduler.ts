/**
 * Timers behind an interface, so the in-process job queue waits on an injected clock: tests advance it instead
 * of sleeping through a backoff or a Slack `Retry-After`.
 */
import type { Clock } from '../util/clock.js';
import { MAX_TIMER_MS } from '../util/duration.js';

export interface Scheduler extends Clock {
  /** Calls `fire` once `now()` reaches `at`; the returned function cancels it. */
  setTimer(at: number, fire: () => void): () => void;
}

/** setTimeout caps a delay at MAX_TIMER_MS (about 24.8 days); longer waits re-arm. */
export const systemScheduler: Scheduler = {
  now: () => Date.now(),
  setTimer(at, fire) {
    let handle: NodeJS.Timeout;
    const arm = () => {
      const delay = at - Date.now();
      handle = setTimeout(delay > MAX_TIMER_MS ? arm : fire, Math.min(Math.max(delay, 0), MAX_TIMER_MS));
      // A pending retry must not keep a finished process alive; the gateway's server does that while it runs.
      handle.unref();
    };
    arm();
    return () => clearTimeout(handle);
  },
};

interface ManualTimer {
  at: number;
  seq: number;
  fire: () => void;
}

/** Lets the work a timer started (promise chains, a retry being scheduled) run before time moves on. */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** A scheduler whose time moves only when a test says so. */
export class ManualScheduler implements Scheduler {
  #now: number;
  #seq = 0;
  #timers = new Set<ManualTimer>();
  #waiters: Array<() => void> = [];

  constructor(start = 1_700_000_000_000) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimer(at: number, fire: () => void): () => void {
    const timer = { at, seq: this.#seq++, fire };
    this.#timers.add(timer);
    for (const wake of this.#waiters.splice(0)) wake();
    return () => this.#timers.delete(timer);
  }

  /** Due times of the timers still armed, soonest first. */
  pending(): number[] {
    return [...this.#timers].map((t) => t.at).sort((a, b) => a - b);
  }

  /** Resolves once at least `count` timers are armed (say, the retry a failed job asked for). */
  async untilTimerSet(count = 1): Promise<void> {
    while (this.#timers.size < count) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  /**
   * Moves time forward by `ms`, firing each timer that falls due at its own time, in order, and letting the
   * in-process work it starts settle before the next one — a retry armed on the way fires too if it is due.
   */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    await settle();
    for (;;) {
      const next = [...this.#timers].filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!next) break;
      this.#timers.delete(next);
      this.#now = Math.max(this.#now, next.at);
      next.fire();
      await settle();
    }
    this.#now = end;
  }
}
