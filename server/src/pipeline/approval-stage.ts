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

/** The approval stage, and what the gateway does with the calls it holds when it shuts down. */
export interface ApprovalStage extends Stage {
  /**
   * Answers every held call that it awaits approval, as at the synchronous cap, and resolves once they have all
   * been answered. Their approvals stay open: `airlock serve` then marks them abandoned (after a crash, its next
   * start does), still decidable, and a decision applies to the agent's retry. Without this, closing the sessions
   * would look to each held call like its client leaving, and cancel the approval.
   */
  release(): Promise<void>;
}

export function approvalStage(options: ApprovalStageOptions): ApprovalStage {
  const { service } = options;
  const shuttingDown = new AbortController();
  const holding = new Set<Promise<StageResult>>();
  return {
    async release() {
      shuttingDown.abort();
      await Promise.allSettled([...holding]);
    },
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
      const holds = hold({ ...held, callId: call.callId, rule: needed.rule, spec: needed.spec, ...(toolAnnotations ? { toolAnnotations } : {}) }, context);
      holding.add(holds);
      const done = () => void holding.delete(holds);
      holds.then(done, done);
      return holds;
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
    let restarting = false;
    const onShutdown = () => {
      restarting = true;
      stop.abort('the gateway is shutting down');
    };
    if (shuttingDown.signal.aborted) onShutdown();
    else shuttingDown.signal.addEventListener('abort', onShutdown, { once: true });
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
      if (restarting) return awaiting(approval, 'Airlock is shutting down, and ');
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
      shuttingDown.signal.removeEventListener('abort', onShutdown);
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

  function awaiting(approval: Approval, why = ''): StageResult {
    const where = options.consoleUrl ? `${options.consoleUrl}/approvals/${approval.id}` : 'the review console or Slack';
    return {
      kind: 'respond',
      outcome: 'pending',
      result: violationResult({
        decision: 'pending',
        rule: approval.rule,
        approvalId: approval.id,
        reason:
          `${why}this call awaits human approval (id ${approval.id}); approve it at ${where}. ` +
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
