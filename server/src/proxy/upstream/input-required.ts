/**
 * A 2026-07-28 upstream asks for input with `input_required` results (MRTR); a 2025-era client only knows
 * server→client requests. For a 2025 session talking to such an upstream, this turns each embedded request into
 * a real request to the client and retries the upstream call with the answers, until the upstream completes.
 * The SDK's own shim does the same for handlers, but not for the raw fallback handler a gateway forwards
 * through (sdk-v2.md §1).
 *
 * Owns: the rounds, their bound, the capability check. Does not own: how a request reaches the client or the
 * upstream (the caller passes both in), nor policy — the retries are one call, already admitted.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

import { type ClientCapabilities, ProtocolError, ProtocolErrorCode, type Result } from '../sdk.js';

/** The SDK shim's bound: each round holds the downstream call open, so a server that never finishes must not. */
export const MAX_INPUT_ROUNDS = 8;
/** A round with requestState alone asks nothing of the client; the pause keeps it from hammering the upstream. */
const STATE_ONLY_PACING_MS = 250;

export interface InputRound {
  inputResponses?: Record<string, Result>;
  requestState?: string;
}

export interface InputRequiredRelay {
  upstream: string;
  method: string;
  /** What the downstream client declared: an embedded request it cannot answer fails the call at once. */
  capabilities: ClientCapabilities;
  /** Sends one embedded request to the client, on the stream of the call that caused it. */
  ask(request: { method: string; params?: Record<string, unknown> }): Promise<Result>;
  /** The same upstream call again, carrying the answers. */
  retry(round: InputRound): Promise<Result>;
  signal?: AbortSignal;
}

export function isInputRequired(result: Result): boolean {
  return (result as { resultType?: unknown }).resultType === 'input_required';
}

export async function fulfilInputRequired(first: Result, relay: InputRequiredRelay): Promise<Result> {
  let result = first;
  for (let round = 1; isInputRequired(result); round += 1) {
    if (round > MAX_INPUT_ROUNDS) {
      throw new ProtocolError(
        ProtocolErrorCode.InternalError,
        `Upstream "${relay.upstream}" still asked for input after ${MAX_INPUT_ROUNDS} rounds of ${relay.method}; the call was abandoned`,
        { airlock: { code: 'UPSTREAM_INPUT_ROUNDS', upstream: relay.upstream } },
      );
    }
    const { inputRequests, requestState } = result as { inputRequests?: Record<string, EmbeddedRequest>; requestState?: string };
    const entries = Object.entries(inputRequests ?? {});
    if (entries.length === 0) await sleep(STATE_ONLY_PACING_MS, undefined, { signal: relay.signal });
    for (const [key, request] of entries) assertAnswerable(relay, key, request);
    const answers = await Promise.all(entries.map(async ([key, request]) => [key, await relay.ask(toLegacyRequest(request))] as const));
    result = await relay.retry({
      ...(answers.length > 0 ? { inputResponses: Object.fromEntries(answers) } : {}),
      ...(requestState !== undefined ? { requestState } : {}),
    });
  }
  return result;
}

export interface EmbeddedRequest {
  method?: unknown;
  params?: Record<string, unknown>;
}

/** Fails with a clear error when the client cannot answer an embedded request (or nobody could). */
export function assertAnswerable(relay: Pick<InputRequiredRelay, 'upstream' | 'method' | 'capabilities'>, key: string, request: EmbeddedRequest): void {
  const needed = requiredCapability(request);
  if (needed === undefined) {
    throw new ProtocolError(
      ProtocolErrorCode.InternalError,
      `Upstream "${relay.upstream}" asked for input '${key}' of an unknown kind (${String(request.method)})`,
      { airlock: { code: 'UPSTREAM_INPUT_UNKNOWN', upstream: relay.upstream } },
    );
  }
  const [capability, mode] = needed;
  const declared = relay.capabilities[capability] as Record<string, unknown> | undefined;
  if (declared !== undefined && (mode === undefined || declared[mode] !== undefined)) return;
  const what = mode === undefined ? `"${capability}"` : `"${capability}.${mode}"`;
  throw new ProtocolError(
    ProtocolErrorCode.MissingRequiredClientCapability,
    `Upstream "${relay.upstream}" needs input '${key}' through ${String(request.method)} to finish ${relay.method}, but this client did not declare the ${what} capability`,
    { requiredCapabilities: { [capability]: mode === undefined ? {} : { [mode]: {} } }, airlock: { upstream: relay.upstream } },
  );
}

/** The client capability (and elicitation mode) an embedded request needs; undefined for a kind MRTR does not define. */
function requiredCapability(request: EmbeddedRequest): [keyof ClientCapabilities, string?] | undefined {
  switch (request.method) {
    case 'elicitation/create':
      // A form request may come from a client that declared `elicitation: {}`, which means form (2025-11-25).
      return request.params?.mode === 'url' ? ['elicitation', 'url'] : ['elicitation'];
    case 'sampling/createMessage':
      return ['sampling'];
    case 'roots/list':
      return ['roots'];
    default:
      return undefined;
  }
}

/** A 2025 URL elicitation needs an `elicitationId`, which the 2026 embedded shape dropped. */
function toLegacyRequest(request: EmbeddedRequest): { method: string; params?: Record<string, unknown> } {
  const method = String(request.method);
  const params = request.params;
  if (method === 'elicitation/create' && params?.mode === 'url' && params.elicitationId === undefined) {
    return { method, params: { ...params, elicitationId: randomUUID() } };
  }
  return params === undefined ? { method } : { method, params };
}
