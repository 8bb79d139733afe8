/**
 * Entry of every tools/call into the pipeline, shared by the single-upstream and aggregated endpoints. The
 * endpoint has already mapped the exposed name to (server, tool); everything else in params is passed on as is.
 */
import { randomUUID } from 'node:crypto';

import { runPipeline, type PipelineObserver } from '../pipeline/run-pipeline.js';
import type { CallContext, Caller, Stage, ToolCall } from '../pipeline/tool-call.js';
import { RoundStates, withRequestState } from './round-states.js';
import type { Result, ServerContext } from './sdk.js';
import { HeldStateSeal } from './upstream/held-state.js';
import { isInputRequired } from './upstream/input-required.js';
import type { UpstreamLink } from './upstream/upstream-link.js';
import type { ToolAnnotationsCache } from '../route/tool-annotations.js';
import type { ParamHeaderCache } from './downstream/param-header-cache.js';

export interface ToolCallDeps {
  stages: readonly Stage[];
  approvalAvailable: boolean;
  observer?: PipelineObserver;
  /** Whether a tool appears in tools/list; the policy stage answers a call to a hidden tool as unknown. */
  isVisible(server: string, tool: string): boolean;
  /** Learns the annotations of listed tools, for approvers' risk hints. */
  annotations?: ToolAnnotationsCache;
  /** Learns the SEP-2243 header rules of listed tools, which the 2026 arm checks calls against. */
  paramHeaders?: ParamHeaderCache;
  /** Seals a 2026 upstream's input_required rounds into one admitted call (round-states.ts). */
  rounds: RoundStates;
}

export async function callTool(
  deps: ToolCallDeps,
  links: ReadonlyMap<string, UpstreamLink>,
  target: { server: string; tool: string; exposedName: string },
  params: Record<string, unknown>,
  caller: Caller,
  mcp: ServerContext,
): Promise<Result> {
  const args = params.arguments;
  const call: ToolCall = {
    callId: randomUUID(),
    exposedName: target.exposedName,
    server: target.server,
    tool: target.tool,
    args: args !== null && typeof args === 'object' && !Array.isArray(args) ? (args as Record<string, unknown>) : {},
    params: target.tool === target.exposedName ? params : { ...params, name: target.tool },
    caller,
  };
  const context: CallContext = { mcp, links, approvalAvailable: deps.approvalAvailable };
  const link = links.get(call.server);
  const state = mcp.mcpReq.requestState();
  if (link && RoundStates.marks(state)) {
    // A 2026 client answering what a 2026 upstream asked: the round continues the call admitted at its first request.
    const round = await deps.rounds.unwrap(state, call);
    const admitted = { ...call, callId: round.callId };
    const continued: CallContext = { ...context, mcp: withRequestState(mcp, round.upstreamState), ...(round.approvalId !== undefined ? { approvalId: round.approvalId } : {}) };
    return sealRound(deps, admitted, continued, await continueCall(deps, link, admitted, continued));
  }
  // A 2026 client answering what a 2025 upstream asked continues the call held since (SuspendedCalls).
  if (link?.continues(mcp)) return continueCall(deps, link, call, context);
  const outcome = await runPipeline(deps.stages, call, context, deps.observer);
  if (outcome.kind === 'error') throw outcome.error;
  return sealRound(deps, call, context, outcome.result);
}

/**
 * A 2026 upstream's question goes back to the client with a round state in place of the upstream's own, so the
 * retry can be recognised as this call. A call held for a 2025 upstream already carries a state of ours.
 */
function sealRound(deps: ToolCallDeps, call: ToolCall, context: CallContext, result: Result): Result {
  if (!isInputRequired(result) || HeldStateSeal.marks(result.requestState)) return result;
  return deps.rounds.wrap(result, call, context.approvalId);
}

async function continueCall(deps: ToolCallDeps, link: UpstreamLink, call: ToolCall, context: CallContext): Promise<Result> {
  context.forwardStartedAt = performance.now();
  try {
    const result = await link.request('tools/call', call.params, { ctx: context.mcp });
    deps.observer?.onContinued?.(call, { kind: 'respond', outcome: result.isError === true ? 'upstream_error' : 'executed', result }, context);
    return result;
  } catch (error) {
    deps.observer?.onContinued?.(call, { kind: 'error', error: error as never }, context);
    throw error;
  }
}

/** Keeps every field of an upstream tools/list page, minus the tools the policy hides. */
export function filterToolPage(result: Result, server: string, deps: ToolCallDeps): Result {
  const tools = (result as { tools?: unknown }).tools;
  if (!Array.isArray(tools)) return result;
  learnTools(deps, server, tools);
  return { ...result, tools: tools.filter((tool: { name?: unknown }) => typeof tool.name === 'string' && deps.isVisible(server, tool.name)) };
}

/** What the gateway keeps from an upstream's tools/list answer, whoever asked for it. */
export function learnTools(deps: ToolCallDeps, server: string, tools: readonly Record<string, unknown>[]): void {
  deps.annotations?.record(server, tools);
  deps.paramHeaders?.record(server, tools);
}
