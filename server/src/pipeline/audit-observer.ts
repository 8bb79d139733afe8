/**
 * Writes the audit trail of every tools/call that ends: the decision (allowed, denied, rate-limited) and the
 * outcome (executed, with the upstream's status and duration). Appends are buffered off the hot path; approval
 * decisions are written by the approval service inside their own transactions, so they are not repeated here.
 */
import type { ApprovalService } from '../approval/approval-service.js';
import type { AuditEvent } from '../audit/audit-event.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { Logger } from '../log/logger.js';
import type { PipelineObserver } from './run-pipeline.js';
import type { CallContext, StageResult, ToolCall } from './tool-call.js';

export function auditObserver(options: { audit: AuditLog; approvals?: ApprovalService; policyVersion(): string | undefined; logger: Logger }): PipelineObserver {
  const { audit, approvals, logger } = options;
  const append = (event: AuditEvent) => {
    try {
      audit.append(event);
    } catch (error) {
      logger.error({ err: (error as Error).message, kind: event.kind }, 'audit append refused');
    }
  };
  const baseOf = (call: ToolCall, context: CallContext): AuditEvent => {
    const policyVersion = options.policyVersion();
    return {
      kind: 'allowed',
      server: call.server,
      tool: call.tool,
      grant: call.caller.grant,
      ...(call.caller.agent ? { agent: call.caller.agent } : {}),
      ...(call.caller.session ? { session: call.caller.session } : {}),
      callId: call.callId,
      ...(policyVersion ? { policyVersion } : {}),
      ...(context.decision ? { rule: context.decision.rule } : {}),
      ...(context.approvalId ? { approvalId: context.approvalId } : {}),
    };
  };
  return {
    onContinued(call, result, context) {
      const durationMs = performance.now() - (context.forwardStartedAt ?? performance.now());
      append({ ...baseOf(call, context), kind: 'executed', upstreamStatus: upstreamStatusOf(result), durationMs, detail: { continuesAfter: 'input_required' } });
    },
    onEnd(call, stage, result, context) {
      const base = baseOf(call, context);
      const durationMs = context.forwardStartedAt === undefined ? undefined : performance.now() - context.forwardStartedAt;
      const executed = (upstreamStatus: string, ok: boolean) => {
        if (context.approvalId && approvals) {
          approvals
            .recordExecution(context.approvalId, { ok, upstreamStatus, durationMs: durationMs ?? 0 })
            .catch((error: Error) => logger.error({ err: error.message, approval: context.approvalId }, 'could not record execution'));
          return;
        }
        append({ ...base, kind: 'allowed', args: call.args as AuditEvent['args'] });
        append({ ...base, kind: 'executed', upstreamStatus, ...(durationMs !== undefined ? { durationMs } : {}) });
      };
      if (result.kind === 'respond') {
        switch (result.outcome) {
          case 'executed':
          case 'upstream_error':
            return executed(upstreamStatusOf(result), result.outcome === 'executed');
          case 'denied':
          case 'rate_limited': {
            const text = (result.result.content as { text?: string }[] | undefined)?.[0]?.text;
            append({ ...base, kind: result.outcome, args: call.args as AuditEvent['args'], ...(text ? { reason: text } : {}) });
            return;
          }
          default:
            return;
        }
      }
      if (stage === 'forward') return executed(upstreamStatusOf(result), false);
      append({ ...base, kind: 'denied', args: call.args as AuditEvent['args'], reason: `${stage}: ${(result.error as Error).message}` });
    },
  };
}

/** `ok`, `tool_error`, `input_required` (the upstream asked the client something first) or `jsonrpc_error:<code>`. */
function upstreamStatusOf(result: Exclude<StageResult, { kind: 'continue' }>): string {
  if (result.kind === 'error') return `jsonrpc_error:${String((result.error as { code?: unknown }).code)}`;
  if ((result.result as { resultType?: unknown }).resultType === 'input_required') return 'input_required';
  return result.outcome === 'upstream_error' ? 'tool_error' : 'ok';
}
