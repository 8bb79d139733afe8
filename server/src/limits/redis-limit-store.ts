/**
 * The scaled limit store: one sliding log per key in Redis, shared by every gateway instance. Each consume is one
 * Lua script (consume.lua) that checks and records all of a call's limits atomically on the Redis server clock;
 * refund is another (refund.lua). This module owns the connection and its failure behaviour: whenever Redis cannot
 * answer within `commandTimeoutMs`, calls reject with LIMITER_UNAVAILABLE instead of waiting for it.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { AirlockError } from '../errors/airlock-error.js';
import type { Clock } from '../util/clock.js';
import { denial, type Violation } from './denial.js';
import { groupRequests } from './group-requests.js';
import type { LimitCheck, LimitRequest, LimitStore } from './limit-store.js';
import { decodeReservation, encodeReservation } from './reservation.js';

// The scripts ship beside the module; `npm run build` copies them next to the compiled files.
const CONSUME_LUA = readFileSync(new URL('./consume.lua', import.meta.url), 'utf8');
const REFUND_LUA = readFileSync(new URL('./refund.lua', import.meta.url), 'utf8');

export interface RedisLimitStoreOptions {
  url: string;
  /** Prepended to every Redis key this store touches; defaults to `airlock:limits:`. */
  keyPrefix?: string | undefined;
  /** Tests only: use this clock instead of the Redis server's. Every instance sharing data must use one clock. */
  clock?: Clock | undefined;
  /** Longest wait for Redis on one call, connecting included; defaults to 1000 ms. */
  commandTimeoutMs?: number | undefined;
}

/** The two scripts, registered with ioredis, which sends EVALSHA and falls back to EVAL when Redis lacks one. */
interface LimitScripts {
  airlockLimitConsume(numKeys: number, ...args: string[]): Promise<Array<number | string>>;
  airlockLimitRefund(numKeys: number, ...args: string[]): Promise<number>;
}

export class RedisLimitStore implements LimitStore {
  readonly #redis: Redis & LimitScripts;
  readonly #prefix: string;
  readonly #clock: Clock | undefined;
  #lastError: Error | undefined;

  constructor({ url, keyPrefix = 'airlock:limits:', clock, commandTimeoutMs = 1000 }: RedisLimitStoreOptions) {
    this.#prefix = keyPrefix;
    this.#clock = clock;
    this.#redis = new Redis(url, {
      // Bounds every call: queued while (re)connecting or sent and unanswered, a command fails after this long.
      commandTimeout: commandTimeoutMs,
      connectTimeout: commandTimeoutMs,
      // Fail queued commands at the first failed connection attempt rather than after 20 retries.
      maxRetriesPerRequest: 0,
      scripts: {
        airlockLimitConsume: { lua: CONSUME_LUA },
        airlockLimitRefund: { lua: REFUND_LUA },
      },
    }) as Redis & LimitScripts;
    // ioredis reconnects on its own; without a listener it would print every failed attempt.
    this.#redis.on('error', (error: Error) => {
      this.#lastError = error;
    });
  }

  async consume(requests: readonly LimitRequest[], opts: { callId?: string } = {}): Promise<LimitCheck> {
    const groups = groupRequests(requests);
    if (groups.length === 0) return { allowed: true, reservation: encodeReservation([]) };

    const id = opts.callId === undefined ? randomUUID() : `${opts.callId}:${randomUUID()}`;
    const keys = groups.flatMap((group) => this.#keys(group.key));
    const weights = groups.map((group) => String(group.weight));
    const limits = requests.flatMap((request) => [
      String(groups.findIndex((group) => group.key === request.key) + 1),
      String(request.windowMs),
      String(request.max),
    ]);
    const now = this.#clock ? String(this.#clock.now()) : '';
    const reply = await this.#call(() =>
      this.#redis.airlockLimitConsume(keys.length, ...keys, now, id, String(groups.length), ...weights, ...limits),
    );

    if (reply[0] === 1) {
      const reserved = groups
        .filter((group) => group.weight > 0)
        .map((group) => [group.key, `${id}|${group.weight}`] as const);
      return { allowed: true, reservation: encodeReservation(reserved) };
    }
    const violations: Violation[] = [];
    for (let i = 1; i < reply.length; i += 2) {
      const retryAfterMs = Number(reply[i + 1]);
      violations.push({
        request: requests[Number(reply[i])]!,
        retryAfterMs: retryAfterMs < 0 ? Infinity : retryAfterMs,
      });
    }
    return denial(violations);
  }

  async refund(reservation: string): Promise<void> {
    const entries = decodeReservation(reservation);
    if (entries.length === 0) return;
    const keys = entries.flatMap(([key]) => this.#keys(key));
    const members = entries.map(([, member]) => member);
    await this.#call(() => this.#redis.airlockLimitRefund(keys.length, ...keys, ...members));
  }

  async close(): Promise<void> {
    if (this.#redis.status === 'end') return;
    // QUIT lets replies in flight arrive; if Redis is unreachable it times out and the socket is dropped instead.
    await this.#redis.quit().catch(() => this.#redis.disconnect());
  }

  /** The sorted set of entries and the hash of totals for one limit key; the prefix keeps the two apart. */
  #keys(key: string): [log: string, meta: string] {
    return [`${this.#prefix}log:${key}`, `${this.#prefix}meta:${key}`];
  }

  async #call<T>(command: () => Promise<T>): Promise<T> {
    // While ioredis waits to reconnect Redis is known to be down: answer at once instead of queueing.
    const { status } = this.#redis;
    if (status === 'reconnecting' || status === 'close' || status === 'end') {
      throw this.#unavailable(this.#lastError);
    }
    try {
      return await command();
    } catch (error) {
      throw this.#unavailable(error);
    }
  }

  #unavailable(cause: unknown): AirlockError {
    const reason = cause instanceof Error ? `: ${cause.message}` : '';
    return new AirlockError('LIMITER_UNAVAILABLE', `Rate limiter is unavailable (Redis${reason})`, { cause });
  }
}
