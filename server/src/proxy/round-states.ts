/**
 * The requestState a 2026 client gets when a 2026 upstream answers its tools/call with `input_required` (MRTR).
 * The client retries the same call with its answers and that state; the rounds are one call, which the pipeline
 * admitted once, so the retry must not pass policy, limits and approval again (it would spend quota per round and
 * ask a human again). To let it skip them safely, the gateway seals the upstream's own state (if it sent one)
 * together with what was admitted: the caller's grant, the server, the tool, the arguments, and a deadline. A
 * retry continues the call only if all of that still holds, and only once: replaying a state would run an
 * admitted call again, so each state is claimed in the limit store, which instances of a deployment share.
 *
 * Owns: sealing, opening, checking and claiming round states. Does not own: forwarding (tool-calls.ts), nor the
 * states of calls held for a 2025 upstream (held-state.ts), which are single-use by nature.
 */
import { randomUUID } from 'node:crypto';

import type { LimitStore } from '../limits/limit-store.js';
import type { ToolCall } from '../pipeline/tool-call.js';
import { hashJson, type JsonValue } from '../util/canonical-json.js';
import type { Clock } from '../util/clock.js';
import { formatDuration } from '../util/duration.js';
import { openText, purposeKey, sealText } from '../util/sealed-text.js';
import { ProtocolError, ProtocolErrorCode, type Result, type ServerContext } from './sdk.js';

const PREFIX = 'airlock-round.';
/** As long as a call held for a 2025 upstream waits (SUSPENDED_CALL_TTL_MS): a human answers each round. */
export const ROUND_STATE_TTL_MS = 10 * 60_000;

/** What a round state carries, sealed. Short keys: the client sends it back with every round. */
interface SealedRound {
  /** The admitted call's id and approval, so the audit trail of every round names the one call. */
  c: string;
  a?: string;
  g: string;
  s: string;
  t: string;
  /** Hash of the canonical arguments. */
  h: string;
  /** Expiry, on the injected clock. */
  e: number;
  /** Claimed once in the limit store. */
  n: string;
  /** The upstream's own requestState; absent when it sent none. */
  u?: string;
}

/** What a valid round state continues: the admitted call, and the state the upstream gets back. */
export interface Round {
  callId: string;
  approvalId?: string;
  upstreamState?: string;
}

export type RoundRefusal = 'altered' | 'other_grant' | 'other_tool' | 'other_arguments' | 'expired' | 'used';

export class RoundStates {
  readonly #key: Buffer;

  /** `sharedKey` is the deployment's state key (see GatewayOptions.heldStateKey); a key of its own is derived. */
  constructor(
    sharedKey: Buffer,
    private readonly clock: Clock,
    private readonly claims: LimitStore,
  ) {
    this.#key = purposeKey(sharedKey, 'airlock-round-state');
  }

  /** Whether a requestState is a round state (valid or not): such a retry continues a call, or is refused. */
  static marks(state: unknown): state is string {
    return typeof state === 'string' && state.startsWith(PREFIX);
  }

  /** The upstream's input_required result, its requestState (if any) replaced by a round state for `call`. */
  wrap(result: Result, call: ToolCall, approvalId: string | undefined): Result {
    const upstreamState = (result as { requestState?: unknown }).requestState;
    const round: SealedRound = {
      c: call.callId,
      ...(approvalId !== undefined ? { a: approvalId } : {}),
      g: call.caller.grant,
      s: call.server,
      t: call.tool,
      h: argumentsHash(call),
      e: this.clock.now() + ROUND_STATE_TTL_MS,
      n: randomUUID(),
      ...(typeof upstreamState === 'string' ? { u: upstreamState } : {}),
    };
    return { ...result, requestState: PREFIX + sealText(this.#key, JSON.stringify(round)) };
  }

  /** The round a retry continues, once; a state that does not hold for `call` is refused, saying why. */
  async unwrap(state: string, call: ToolCall): Promise<Round> {
    const plain = openText(this.#key, state.slice(PREFIX.length));
    if (plain === undefined) throw refusal('altered', 'requestState was not issued by this gateway, or was altered');
    const round = JSON.parse(plain) as SealedRound;
    if (round.g !== call.caller.grant) throw refusal('other_grant', 'requestState was issued to another caller');
    if (round.s !== call.server || round.t !== call.tool) {
      throw refusal('other_tool', `requestState continues a call of tool "${round.t}" on server "${round.s}", not of "${call.tool}" on "${call.server}"`);
    }
    if (round.h !== argumentsHash(call)) {
      throw refusal('other_arguments', `requestState continues a call of "${call.tool}" on "${call.server}" with other arguments; a retry must send the arguments of the call it answers`);
    }
    if (this.clock.now() >= round.e) {
      throw refusal('expired', `requestState expired: the answers to "${call.tool}" on "${call.server}" came more than ${formatDuration(ROUND_STATE_TTL_MS)} after the question`);
    }
    await this.#claim(round.n);
    return { callId: round.c, ...(round.a !== undefined ? { approvalId: round.a } : {}), ...(round.u !== undefined ? { upstreamState: round.u } : {}) };
  }

  async #claim(nonce: string): Promise<void> {
    let check;
    try {
      check = await this.claims.consume([{ key: `airlock-round|${nonce}`, counter: 'airlock-round', windowMs: ROUND_STATE_TTL_MS, max: 1, cost: 1, onExceed: 'deny', rule: '' }]);
    } catch (error) {
      // Not the caller's fault: the store that says whether the state was used already is unreachable.
      throw new ProtocolError(ProtocolErrorCode.InternalError, `Cannot continue the call: whether its requestState was used already is unknown (${(error as Error).message})`, {
        airlock: { code: 'LIMITER_UNAVAILABLE' },
      });
    }
    if (!check.allowed) throw refusal('used', 'requestState was used already: each input round continues its call once');
  }
}

/** The request context a continued call forwards with: the upstream's own requestState in place of ours. */
export function withRequestState(ctx: ServerContext, state: string | undefined): ServerContext {
  return { ...ctx, mcpReq: { ...ctx.mcpReq, requestState: <T>() => state as T | undefined } };
}

function argumentsHash(call: ToolCall): string {
  return hashJson(call.args as JsonValue);
}

function refusal(reason: RoundRefusal, message: string): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.InvalidParams, `${message}; call the tool again without requestState`, {
    airlock: { code: 'REQUEST_STATE_REFUSED', reason },
  });
}
