/**
 * Slows down password guessing at the sign-in form: after MAX_FAILURES wrong passwords for one username from one
 * address within WINDOW_MS, that pair is refused until the window has passed. Keyed on the pair, so a stranger
 * cannot lock a colleague out from elsewhere. In memory: a restart forgets, which only helps a guesser by one
 * window, and scrypt already makes each guess slow.
 */
import type { Clock } from '../util/clock.js';

const MAX_FAILURES = 10;
const WINDOW_MS = 15 * 60_000;
/** A bound on memory under a spray of usernames; the oldest entries go first. */
const MAX_KEYS = 10_000;

export class SignInThrottle {
  readonly #clock: Clock;
  readonly #failures = new Map<string, { count: number; since: number }>();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Milliseconds until this pair may try again, or 0. */
  retryAfterMs(address: string, username: string): number {
    const entry = this.#failures.get(key(address, username));
    if (!entry) return 0;
    const left = entry.since + WINDOW_MS - this.#clock.now();
    if (left <= 0) this.#failures.delete(key(address, username));
    return entry.count >= MAX_FAILURES && left > 0 ? left : 0;
  }

  fail(address: string, username: string): void {
    const now = this.#clock.now();
    const id = key(address, username);
    const entry = this.#failures.get(id);
    if (entry && now - entry.since < WINDOW_MS) entry.count += 1;
    else {
      this.#failures.delete(id);
      if (this.#failures.size >= MAX_KEYS) this.#failures.delete(this.#failures.keys().next().value as string);
      this.#failures.set(id, { count: 1, since: now });
    }
  }

  succeed(address: string, username: string): void {
    this.#failures.delete(key(address, username));
  }
}

function key(address: string, username: string): string {
  return `${address}\u0000${username}`;
}
