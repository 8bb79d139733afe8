/**
 * The audit log as the rest of the gateway sees it. `append` only validates and buffers, so the tool-call path
 * never waits for redaction, hashing or a database write (an insert costs ~0.2–0.4 ms, the whole gateway budget is
 * 0.3 ms p50); batches are written shortly after, one at a time, in append order.
 *
 * Nothing is lost: a failed batch stays at the head of the buffer and is retried with backoff, `flush()` waits
 * until everything appended before it is stored (and rejects if the database refuses, keeping the events), and
 * `close()` flushes. A process killed with SIGKILL loses at most the last `flushDelayMs` of events.
 *
 * The buffer is bounded: once `maxBacklog` events wait (the database has been away for a while, or cannot keep
 * up), the log is `full` and the gateway refuses tool calls rather than run them unrecorded or let memory grow
 * until the process dies with everything it kept. Refused calls are not buffered one by one: one `denied` event
 * counts them (`noteRefusedCall`), at the point in the chain where the refusals began.
 *
 * Decisions that must be atomic with their audit row use `appendInTransaction` instead, which writes at once
 * inside the caller's transaction; its row then precedes buffered events appended earlier (seq is commit order;
 * `ts` never decreases along seq, and an event recorded after a later one keeps its own time in `occurredAt`).
 */
import { AirlockError, asAirlockError } from '../errors/airlock-error.js';
import type { Db } from '../db/db.js';
import { systemClock, type Clock } from '../util/clock.js';
import {
  prepareAuditEvent,
  validateAuditEvent,
  type AuditEvent,
  type PreparedAuditEvent,
  type ValidatedAuditEvent,
} from './audit-event.js';
import { appendAuditEvents, appendGated, appendWithinTransaction, type AppendGate, type ChainRow, type ChainTip } from './audit-store.js';

export interface AuditLogOptions {
  /** Store argument values (secrets excepted) instead of their hashes. */
  keepArgValues?: boolean;
  /** Most events per write; a full buffer is written without waiting for the delay. */
  maxBatch?: number;
  /** How long events gather before a write. */
  flushDelayMs?: number;
  /** Backoff after failed writes: doubling from `retryMinMs` up to `retryMaxMs`. */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** Most events kept waiting for the database; beyond it the log is `full`. */
  maxBacklog?: number;
  clock?: Clock;
  /** Told about every failed background write; the events are kept and retried. */
  onWriteError?: (error: AirlockError, bufferedEvents: number) => void;
}

/** An entry is redacted once, when first written (or handed out), and keeps that form across retries. */
interface BufferedEvent {
  event: ValidatedAuditEvent;
  prepared?: PreparedAuditEvent;
}

export class AuditLog {
  readonly #db: Db;
  readonly #keepArgValues: boolean;
  readonly #maxBatch: number;
  readonly #flushDelayMs: number;
  readonly #retryMinMs: number;
  readonly #retryMaxMs: number;
  readonly #maxBacklog: number;
  readonly #clock: Clock;
  readonly #onWriteError: (error: AirlockError, bufferedEvents: number) => void;

  /** Oldest first. */
  #buffer: BufferedEvent[] = [];
  /** Events ever appended / ever written: flush() waits until written reaches appended-at-call. */
  #appended = 0;
  #written = 0;
  /** Writes are chained so that only one runs at a time and batches land in order. */
  #writeTail: Promise<unknown> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  #failures = 0;
  #closed = false;
  /** The chain's tip after this log's last append, so the next is one statement; a stale one only costs a retry. */
  #tip: ChainTip | undefined;
  #lastWriteError: AirlockError | undefined;
  /** The event counting the calls refused since the log became full; counting stops once it is prepared. */
  #refusals: BufferedEvent | undefined;

  constructor(db: Db, options: AuditLogOptions = {}) {
    this.#db = db;
    this.#keepArgValues = options.keepArgValues ?? false;
    this.#maxBatch = options.maxBatch ?? 500;
    this.#flushDelayMs = options.flushDelayMs ?? 20;
    this.#retryMinMs = options.retryMinMs ?? 100;
    this.#retryMaxMs = options.retryMaxMs ?? 5000;
    this.#maxBacklog = options.maxBacklog ?? 100_000;
    this.#clock = options.clock ?? systemClock;
    this.#onWriteError = options.onWriteError ?? (() => {});
  }

  /** Events appended but not yet stored. */
  get buffered(): number {
    return this.#buffer.length;
  }

  get maxBacklog(): number {
    return this.#maxBacklog;
  }

  /** Whether `maxBacklog` events wait to be stored: the gateway then refuses tool calls (see `noteRefusedCall`). */
  get full(): boolean {
    return this.#buffer.length >= this.#maxBacklog;
  }

  /** Why the last background write failed, while the log is still retrying it. */
  get lastWriteError(): AirlockError | undefined {
    return this.#failures > 0 ? this.#lastWriteError : undefined;
  }

  /**
   * Counts a tool call refused because the log is full, in one `denied` event per run of refusals, buffered
   * beyond the limit (it is one event, however many calls it counts). True for the first refusal of a run.
   */
  noteRefusedCall(): boolean {
    const now = new Date(this.#clock.now()).toISOString();
    const open = this.#refusals;
    if (open && open.prepared === undefined) {
      const detail = open.event.detail as { refusedCalls: number; lastRefusedAt: string };
      detail.refusedCalls += 1;
      detail.lastRefusedAt = now;
      return false;
    }
    const event = validateAuditEvent(
      {
        kind: 'denied',
        reason: `Tool calls refused: the audit log could not be stored, and ${this.#maxBacklog} events were waiting (audit.maxBacklog)`,
        detail: { refusedCalls: 1, lastRefusedAt: now },
      },
      this.#clock,
    );
    this.#refusals = this.#push(event);
    return true;
  }

  /**
   * Validates and buffers the event (a few microseconds); redaction and hashing happen on the write path.
   * Throws only for an invalid event or a closed log. The log keeps `event.args` until written: do not mutate it.
   */
  append(event: AuditEvent): void {
    if (this.#closed) throw new AirlockError('INTERNAL', 'The audit log is closed');
    this.#push(validateAuditEvent(event, this.#clock));
  }

  #push(event: ValidatedAuditEvent): BufferedEvent {
    const entry = { event };
    this.#buffer.push(entry);
    this.#appended += 1;
    // While retrying, the backoff timer decides when to write next; a full batch does not hammer a failing db.
    if (this.#failures === 0) this.#schedule(this.#buffer.length >= this.#maxBatch ? 0 : this.#flushDelayMs);
    return entry;
  }

  /**
   * The events not yet stored, oldest first, redacted as the log would store them: what a process that must exit
   * while the database is unreachable hands to its operator instead of losing (see `airlock serve`).
   */
  unwritten(): PreparedAuditEvent[] {
    return this.#buffer.map((entry) => (entry.prepared ??= prepareAuditEvent(entry.event, this.#keepArgValues)));
  }

  /** Writes the event now, inside `tx`, so it commits or rolls back with the caller's change. */
  async appendInTransaction(tx: Db, event: AuditEvent): Promise<ChainRow> {
    const prepared = prepareAuditEvent(validateAuditEvent(event, this.#clock), this.#keepArgValues);
    const appended = await appendWithinTransaction(tx, [prepared], this.#tip);
    this.#tip = appended.tip;
    const [row] = appended.links;
    if (!row) throw new AirlockError('INTERNAL', 'The audit append returned no row');
    return row;
  }

  /**
   * The gate's change and the event in one statement, inside the caller's transaction `tx` (see AppendGate):
   * `appended` is false when the gate changed a row but the chain had moved on, and the caller must then roll
   * back. Undefined, with nothing done, until this log knows the chain's tip.
   */
  async appendGatedInTransaction<R>(tx: Db, gate: AppendGate, event: AuditEvent): Promise<{ gateRows: R[]; appended: boolean } | undefined> {
    const tip = this.#tip;
    if (!tip) return undefined;
    const prepared = prepareAuditEvent(validateAuditEvent(event, this.#clock), this.#keepArgValues);
    const result = await appendGated<R>(tx, gate, [prepared], tip);
    if (!result) return undefined;
    if (result.appended) this.#tip = result.appended.tip;
    return { gateRows: result.gateRows, appended: result.appended !== undefined };
  }

  /** Resolves once every event appended before the call is stored; rejects (keeping them) if a write fails. */
  async flush(): Promise<void> {
    const target = this.#appended;
    while (this.#written < target) {
      try {
        await this.#writeBatch();
      } catch (error) {
        this.#scheduleRetry();
        throw error;
      }
    }
  }

  /** Refuses further appends and flushes. The Db stays open: it belongs to the caller. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.flush();
  }

  #schedule(delayMs: number): void {
    if (this.#timer !== undefined && delayMs > 0) return;
    // Kept referenced: a process that ends normally waits these few milliseconds for its last events.
    this.#arm(delayMs).ref();
  }

  #scheduleRetry(): void {
    this.#failures += 1;
    const delay = Math.min(this.#retryMinMs * 2 ** (this.#failures - 1), this.#retryMaxMs);
    // Unreferenced: an unreachable database must not keep the process alive forever; close() tries once more.
    this.#arm(delay).unref();
  }

  #arm(delayMs: number): NodeJS.Timeout {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#background();
    }, delayMs);
    return this.#timer;
  }

  async #background(): Promise<void> {
    if (this.#buffer.length === 0) return;
    try {
      await this.#writeBatch();
    } catch (error) {
      this.#scheduleRetry();
      try {
        this.#onWriteError(asAirlockError(error, 'STORAGE_UNAVAILABLE'), this.#buffer.length);
      } catch {
        // A throwing listener must not become an unhandled rejection that ends the gateway.
      }
    }
  }

  /** Writes the oldest batch; on failure the buffer is untouched, so the same events are retried in order. */
  #writeBatch(): Promise<void> {
    const run = this.#writeTail.then(async () => {
      const batch = this.#buffer.slice(0, this.#maxBatch);
      if (batch.length === 0) return;
      try {
        ({ tip: this.#tip } = await appendAuditEvents(
          this.#db,
          batch.map((entry) => (entry.prepared ??= prepareAuditEvent(entry.event, this.#keepArgValues))),
          this.#tip,
        ));
      } catch (error) {
        this.#tip = undefined;
        this.#lastWriteError = asAirlockError(error, 'STORAGE_UNAVAILABLE');
        throw error;
      }
      this.#buffer.splice(0, batch.length);
      this.#written += batch.length;
      // The database is back (or was never gone): leave backoff. What arrived during the write gathers as usual:
      // writing it at once turned a steady stream of calls into back-to-back writes of a few rows each on
      // PostgreSQL, whose write is a round trip. A full batch (a backlog after an outage) is written right away.
      this.#failures = 0;
      if (this.#buffer.length > 0 && !this.#closed) this.#schedule(this.#buffer.length >= this.#maxBatch ? 0 : this.#flushDelayMs);
    });
    this.#writeTail = run.catch(() => undefined);
    return run;
  }
}
