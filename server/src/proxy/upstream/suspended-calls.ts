/**
 * A 2025 upstream asks its client mid-call (sampling, elicitation, roots); a 2026 client can only be asked through
 * an `input_required` result and answers by calling again. So the upstream call is held open here while the
 * client answers: each time the upstream asks, the downstream request ends with `input_required` carrying the
 * questions and a sealed `requestState` naming the held call, and the client's retry hands the answers to the
 * upstream and waits for the call to finish or ask again.
 *
 * Owns: held calls, their lifetime, sealing and checking requestState. Does not own: sending anything (the link
 * starts the upstream call and routes the upstream's questions here), nor policy — a retry continues the call
 * the pipeline admitted, it is not a new one.
 */
import { randomUUID } from 'node:crypto';

import type { Clock } from '../../util/clock.js';
import { formatDuration } from '../../util/duration.js';
import { CLIENT_CAPABILITIES_META_KEY, type ClientCapabilities, ProtocolError, ProtocolErrorCode, type Result, type ServerContext } from '../sdk.js';
import { callerOf } from './caller.js';
import { HeldStateSeal } from './held-state.js';
import { assertAnswerable } from './input-required.js';

/** A held call outlives no human pause longer than this; the upstream then hears that nobody answered. */
export const SUSPENDED_CALL_TTL_MS = 10 * 60_000;

interface Question {
  key: string;
  method: string;
  params?: Record<string, unknown>;
  answer(result: Result): void;
  fail(error: Error): void;
}

/** What the upstream call of a held call uses in place of one request's signal and progress token. */
export interface HeldAttempt {
  signal: AbortSignal;
  /** Relays upstream progress to the request now driving the call, under that request's own token. */
  progress(progress: Record<string, unknown>): Promise<void>;
  /**
   * Puts a question the upstream asked within this call to the request driving it; undefined when none does (the
   * client has not come back yet).
   */
  ask(request: { method: string; params?: Record<string, unknown> }): Promise<Result> | undefined;
}

interface HeldCall {
  readonly id: string;
  readonly method: string;
  /** Who started it (callerOf). */
  readonly caller: string;
  /** Who may continue it: the caller's grant and the request it answers. */
  readonly binding: string;
  readonly outcome: Promise<Result>;
  readonly abort: AbortController;
  /** What its upstream call was sent with. */
  readonly attempt: HeldAttempt;
  /** The downstream request waiting for this call now, and its progress token. */
  driver?: { ctx: ServerContext; progressToken: unknown };
  questions: Question[];
  asked?: () => void;
  asks: number;
  expiresAt: number;
  timer?: NodeJS.Timeout;
}

export class SuspendedCalls {
  readonly #held = new Map<string, HeldCall>();
  /** The call each in-flight downstream request drives, for routing what the upstream asks. */
  readonly #driving = new Map<ServerContext, HeldCall>();

  constructor(
    private readonly upstream: string,
    private readonly clock: Clock,
    private readonly states: HeldStateSeal,
  ) {}

  /** Whether a request continues a held call (its requestState is ours, valid or not). */
  static continues(ctx: ServerContext): boolean {
    return HeldStateSeal.marks(ctx.mcpReq.requestState());
  }

  /** Starts an upstream call that may be held: `send` gets the signal that ends it and where its progress goes. */
  start(method: string, params: Record<string, unknown> | undefined, ctx: ServerContext, send: (attempt: HeldAttempt) => Promise<Result>): Promise<Result> {
    const abort = new AbortController();
    // Progress and questions can only arrive once the call exists: sending starts with an await.
    const attempt: HeldAttempt = {
      signal: abort.signal,
      progress: (progress) => relayProgress(call, progress),
      ask: (request) => (call.driver ? this.#question(call, request) : undefined),
    };
    const outcome = send(attempt);
    // Nobody awaits a held call's outcome until the client comes back; its failure must not go unhandled meanwhile.
    outcome.catch(() => undefined);
    const call: HeldCall = { id: randomUUID(), method, caller: callerOf(ctx), binding: bindingOf(method, params, ctx), outcome, abort, attempt, questions: [], asks: 0, expiresAt: 0 };
    return this.#drive(call, ctx, params);
  }

  /** Hands the client's answers to the held call its requestState names and waits for what comes next. */
  continue(method: string, params: Record<string, unknown> | undefined, ctx: ServerContext): Promise<Result> {
    const call = this.#take(String(ctx.mcpReq.requestState()), bindingOf(method, params, ctx));
    const responses = (ctx.mcpReq.inputResponses ?? {}) as Record<string, Result>;
    const missing = call.questions.filter((q) => responses[q.key] === undefined).map((q) => q.key);
    if (missing.length > 0) {
      this.#release(call, new Error('the client did not answer'));
      throw new ProtocolError(ProtocolErrorCode.InvalidParams, `inputResponses lacks ${missing.map((k) => `'${k}'`).join(', ')}; the held call on upstream "${this.upstream}" was cancelled`);
    }
    for (const question of call.questions) question.answer(responses[question.key]!);
    call.questions = [];
    return this.#drive(call, ctx, params);
  }

  /**
   * Where a question from the upstream goes that arrived beside `related`: the call `related` drives, or else the
   * only call being driven if the same caller drives it (`related` may be a request that starts no held call, a
   * tools/list beside the call). Undefined when no call can take it: a held call has no request to carry a
   * question until its client comes back.
   */
  drivenBy(related: ServerContext): HeldAttempt | undefined {
    const only = this.#driving.size === 1 ? [...this.#driving.values()][0] : undefined;
    return (this.#driving.get(related) ?? (only?.caller === callerOf(related) ? only : undefined))?.attempt;
  }

  /** The callers of the calls waiting for their client to come back: their upstream calls are still running. */
  waitingCallers(): string[] {
    return [...this.#held.values()].map((call) => call.caller);
  }

  #question(call: HeldCall, request: { method: string; params?: Record<string, unknown> }): Promise<Result> {
    return new Promise<Result>((answer, fail) => {
      call.asks += 1;
      call.questions.push({ key: `input-${call.asks}`, ...request, answer, fail });
      call.asked?.();
    });
  }

  async #drive(call: HeldCall, ctx: ServerContext, params: Record<string, unknown> | undefined): Promise<Result> {
    const cancel = () => call.abort.abort(ctx.mcpReq.signal.reason);
    ctx.mcpReq.signal.addEventListener('abort', cancel);
    this.#driving.set(ctx, call);
    call.driver = { ctx, progressToken: (params?._meta as { progressToken?: unknown } | undefined)?.progressToken };
    try {
      const asked = new Promise<void>((resolve) => {
        call.asked = resolve;
        if (call.questions.length > 0) resolve();
      });
      const next = await Promise.race([call.outcome.then((result) => ({ result })), asked.then(() => undefined)]);
      if (next) return next.result;
      // Questions the upstream sends together travel to the client together.
      await new Promise((resolve) => setImmediate(resolve));
      const capabilities = ((ctx.mcpReq.envelope as Record<string, unknown> | undefined)?.[CLIENT_CAPABILITIES_META_KEY] ?? {}) as ClientCapabilities;
      for (const question of call.questions) assertAnswerable({ upstream: this.upstream, method: call.method, capabilities }, question.key, question);
      return this.#hold(call);
    } catch (error) {
      this.#release(call, error as Error);
      throw error;
    } finally {
      call.asked = undefined;
      call.driver = undefined;
      this.#driving.delete(ctx);
      ctx.mcpReq.signal.removeEventListener('abort', cancel);
    }
  }

  #hold(call: HeldCall): Result {
    call.expiresAt = this.clock.now() + SUSPENDED_CALL_TTL_MS;
    clearTimeout(call.timer);
    call.timer = setTimeout(() => this.#release(call, new Error(`nobody answered within ${formatDuration(SUSPENDED_CALL_TTL_MS)}`)), SUSPENDED_CALL_TTL_MS);
    call.timer.unref();
    this.#held.set(call.id, call);
    return {
      resultType: 'input_required',
      inputRequests: Object.fromEntries(call.questions.map((q) => [q.key, q.params === undefined ? { method: q.method } : { method: q.method, params: q.params }])),
      requestState: this.states.seal(call.id),
    };
  }

  #take(state: string, binding: string): HeldCall {
    const id = this.states.open(state)?.callId;
    const call = id === undefined ? undefined : this.#held.get(id);
    if (!call || call.binding !== binding) {
      throw new ProtocolError(
        ProtocolErrorCode.InvalidParams,
        `requestState names no held call on upstream "${this.upstream}" for this request (it expired, was answered already, or was never issued); call again without requestState`,
      );
    }
    if (this.clock.now() >= call.expiresAt) {
      this.#release(call, new Error(`nobody answered within ${formatDuration(SUSPENDED_CALL_TTL_MS)}`));
      throw new ProtocolError(
        ProtocolErrorCode.InvalidParams,
        `The held call on upstream "${this.upstream}" expired after ${formatDuration(SUSPENDED_CALL_TTL_MS)} without an answer; call again without requestState`,
      );
    }
    this.#held.delete(call.id);
    clearTimeout(call.timer);
    return call;
  }

  /** Ends a held call: the upstream's open questions fail and the call itself is cancelled. */
  #release(call: HeldCall, reason: Error): void {
    this.#held.delete(call.id);
    clearTimeout(call.timer);
    for (const question of call.questions) question.fail(reason);
    call.questions = [];
    call.abort.abort(reason);
  }
}

/** Progress while no request waits (or one without a token) has nowhere to go. */
async function relayProgress(call: HeldCall, progress: Record<string, unknown>): Promise<void> {
  const driver = call.driver;
  if (driver?.progressToken === undefined) return;
  await driver.ctx.mcpReq.notify({ method: 'notifications/progress', params: { ...progress, progressToken: driver.progressToken } }).catch(() => undefined);
}

function bindingOf(method: string, params: Record<string, unknown> | undefined, ctx: ServerContext): string {
  return JSON.stringify([callerOf(ctx), method, params?.name ?? params?.uri ?? null]);
}
