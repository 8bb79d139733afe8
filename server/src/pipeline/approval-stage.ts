/**
 * Holds a call that needs a human. The wait ladder (hitl.md §3.5): progress heartbeats while the client gave a
 * progress token, so clients that reset their timeout on progress wait as long as it takes; after the
 * synchronous cap an isError result says the call awaits approval (id, where to approve), the approval stays
 * pending, and once approved the agent's retry of the identical call runs exactly once.
 */
import type { ApprovalService, HeldCall } from '../approval/approval-service.js';
import type { Approval } from '../approval/approval.js';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import type { ToolAnnotations } from '../route/tool-annotations.js';
import { formatDuration } from '../util/duration.js';
import { violationResult } from './decision-result.js';
import type { CallContext, Stage, StageResult } from './tool-call.js';

export interface ApprovalStageOptions {
  service: ApprovalService;
  /** The current policy's version: approvals are bound to it. */
  policyVersion(): string;
  /** How long one request may be held before the agent gets the "awaits approval" result (default 50 s). */
  syncCapMs: number;
  /** Interval of progress notifications while held (default 15 s). */
  heartbeatMs: number;
  /** Base URL of the review console, for the agent's message. */
  consoleUrl?: string;
  logger: Logger;
  metrics?: Metrics;
  /** What agents were told about the tool, stored with the approval for approvers' risk hints. */
  toolAnnotations?(server: string, tool: string): ToolAnnotations | undefined;
}

export function approvalStage(options: ApprovalStageOptions): Stage {
  const { service } = options;
  return {
    name: 'approval',
    async run(call, context) {
      const needed = context.approvalNeeded;
      if (!needed) return { kind: 'continue' };
      const held = { server: call.server, tool: call.tool, args: call.args, caller: call.caller, policyVersion: options.policyVersion() };
      const claimed = await service.claimRetry(held);
      if (claimed) {
        context.approvalId = claimed.id;
        return { kind: 'continue' };
      }
      const toolAnnotations = options.toolAnnotations?.(call.server, call.tool);
      return hold({ ...held, callId: call.callId, rule: needed.rule, spec: needed.spec, ...(toolAnnotations ? { toolAnnotations } : {}) }, context);
    },
  };

  async function hold(request: HeldCall, context: CallContext): Promise<StageResult> {
    const signal = context.mcp.mcpReq.signal;
    const stop = new AbortController();
    const onClientAbort = () => stop.abort(signal.reason);
    signal.addEventListener('abort', onClientAbort, { once: true });
    let capped = false;
    const cap = setTimeout(() => {
      capped = true;
      stop.abort('sync cap');
    }, options.syncCapMs);
    const released = options.metrics?.callHeld();
    // Cleared in finally; the approval is known only once the request committed.
    let heartbeat: NodeJS.Timeout | undefined;
    let approval: Approval | undefined;
    try {
      const requested = await service.request(request, stop.signal);
      approval = requested.approval;
      context.approvalId = approval.id;
      heartbeat = startHeartbeat(approval, context, options.heartbeatMs);
      const decided = await requested.decision!;
      return await afterDecision(decided);
    } catch (error) {
      if (!approval) throw error;
      if (capped) return awaiting(approval);
      if (signal.aborted) {
        // The client cancelled or went away: this call no longer waits. Calls joined to it keep the approval.
        await service.leave(approval.id, `the agent cancelled the call (${String(signal.reason ?? 'cancelled')})`);
        return { kind: 'respond', outcome: 'cancelled', result: violationResult({ decision: 'cancelled', rule: approval.rule, reason: 'The call was cancelled while it awaited approval.', approvalId: approval.id }) };
      }
      throw error;
    } finally {
      released?.();
      clearTimeout(cap);
      clearInterval(heartbeat);
      signal.removeEventListener('abort', onClientAbort);
    }
  }

  async function afterDecision(approval: Approval): Promise<StageResult> {
    const detail = { rule: approval.rule, approvalId: approval.id };
    switch (approval.status) {
      case 'approved': {
        if (await service.claim(approval.id)) return { kind: 'continue' };
        return {
          kind: 'respond',
          outcome: 'rejected',
          result: violationResult({ decision: 'deny', ...detail, reason: `Approval ${approval.id} was granted once and has already been used by an identical call; it does not run twice.` }),
        };
      }
      case 'rejected':
        return {
          kind: 'respond',
          outcome: 'rejected',
          result: violationResult({ decision: 'reject', ...detail, reason: `Rejected by ${approval.decidedBy}${approval.reason ? `: ${approval.reason}` : ' (no reason given)'}` }),
        };
      case 'expired':
        return {
          kind: 'respond',
          outcome: 'expired',
          result: violationResult({ decision: 'expired', ...detail, reason: `No one approved the call within ${formatDuration(approval.spec.timeoutMs)}, so it was not run.` }),
        };
      default:
        return {
          kind: 'respond',
          outcome: 'cancelled',
          result: violationResult({ decision: 'cancelled', ...detail, reason: `The approval was ${approval.status}${approval.reason ? `: ${approval.reason}` : ''}.` }),
        };
    }
  }

  function awaiting(approval: Approval): StageResult {
    const where = options.consoleUrl ? `${options.consoleUrl}/approvals/${approval.id}` : 'the review console or Slack';
    return {
      kind: 'respond',
      outcome: 'pending',
      result: violationResult({
        decision: 'pending',
        rule: approval.rule,
        approvalId: approval.id,
        reason:
          `this call awaits human approval (id ${approval.id}); approve it at ${where}. ` +
          `Once approved, retry the identical call: it will run once. The approval expires at ${approval.expiresAt}.`,
      }),
    };
  }
}

/** Progress must increase, so the heartbeat counts; its message tells a human-facing client what is going on. */
function startHeartbeat(approval: Approval, context: CallContext, everyMs: number): NodeJS.Timeout | undefined {
  const token = context.mcp.mcpReq._meta?.progressToken;
  if (token === undefined) return undefined;
  let beat = 0;
  return setInterval(() => {
    beat += 1;
    void context.mcp.mcpReq
      .notify({ method: 'notifications/progress', params: { progressToken: token, progress: beat, message: `Awaiting human approval ${approval.id}` } })
      .catch(() => undefined);
  }, everyMs);
}
