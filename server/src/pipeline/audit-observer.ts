/**
 * Writes the audit trail of every tools/call that ends: the decision (allowed, denied, rate-limited) and the
 * outcome (executed, with the upstream's status and duration). Appends are buffered off the hot path; approval
 * decisions are written by the approval service inside their own transactions, so they are not repeated here.
 */
import type { ApprovalService } from '../approval/approval-service.js';
import type { AuditEvent, AuditEventKind } from '../audit/audit-event.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { Logger } from '../log/logger.js';
import { AUDIT_GATE_STAGE } from './audit-gate-stage.js';
import type { PipelineObserver } from './run-pipeline.js';
import type { CallContext, StageResult, ToolCall } from './tool-call.js';

type EventFields = Pick<AuditEvent, 'args' | 'reason' | 'upstreamStatus' | 'durationMs' | 'detail'>;

export function auditObserver(options: { audit: AuditLog; approvals?: ApprovalService; policyVersion(): string | undefined; logger: Logger }): PipelineObserver {
  const { audit, approvals, logger } = options;
  const append = (event: AuditEvent) => {
    try {
      audit.append(event);
    } catch (error) {
      logger.error({ err: (error as Error).message, kind: event.kind }, 'audit append refused');
    }
  };
  /**
   * The call's event; members left undefined stay out of the record. One literal with every member: spreads that
   * add members (`{ ...base, kind }`) cost microseconds each here, and this runs twice per allowed call.
   */
  const eventOf = (call: ToolCall, context: CallContext, kind: AuditEventKind, fields: EventFields = {}): AuditEvent => ({
    kind,
    server: call.server,
    tool: call.tool,
    grant: call.caller.grant,
    agent: call.caller.agent || undefined,
    session: call.caller.session || undefined,
    callId: call.callId,
    policyVersion: options.policyVersion() || undefined,
    rule: context.decision?.rule,
    approvalId: context.approvalId || undefined,
    args: fields.args,
    reason: fields.reason,
    upstreamStatus: fields.upstreamStatus,
    durationMs: fields.durationMs,
    detail: fields.detail,
  });
  return {
    onContinued(call, result, context) {
      const durationMs = performance.now() - (context.forwardStartedAt ?? performance.now());
      append(eventOf(call, context, 'executed', { upstreamStatus: upstreamStatusOf(result), durationMs, detail: { continuesAfter: 'input_required' } }));
    },
    onEnd(call, stage, result, context) {
      // The log counts these itself, in one event: buffering one per call is what the gate is there to stop.
      if (stage === AUDIT_GATE_STAGE) return;
      const durationMs = context.forwardStartedAt === undefined ? undefined : performance.now() - context.forwardStartedAt;
      const executed = (upstreamStatus: string, ok: boolean) => {
        if (context.approvalId && approvals) {
          approvals
            .recordExecution(context.approvalId, { ok, upstreamStatus, durationMs: durationMs ?? 0 })
            .catch((error: Error) => logger.error({ err: error.message, approval: context.approvalId }, 'could not record execution'));
          return;
        }
        append(eventOf(call, context, 'allowed', { args: call.args as AuditEvent['args'] }));
        append(eventOf(call, context, 'executed', { upstreamStatus, durationMs }));
      };
      if (result.kind === 'respond') {
        switch (result.outcome) {
          case 'executed':
          case 'upstream_error':
            return executed(upstreamStatusOf(result), result.outcome === 'executed');
          case 'denied':
          case 'rate_limited': {
            const text = (result.result.content as { text?: string }[] | undefined)?.[0]?.text;
            append(eventOf(call, context, result.outcome, { args: call.args as AuditEvent['args'], reason: text || undefined }));
            return;
          }
          default:
            return;
        }
      }
      if (stage === 'forward') return executed(upstreamStatusOf(result), false);
      append(eventOf(call, context, 'denied', { args: call.args as AuditEvent['args'], reason: `${stage}: ${(result.error as Error).message}` }));
    },
  };
}

/** `ok`, `tool_error`, `input_required` (the upstream asked the client something first) or `jsonrpc_error:<code>`. */
function upstreamStatusOf(result: Exclude<StageResult, { kind: 'continue' }>): string {
  if (result.kind === 'error') return `jsonrpc_error:${String((result.error as { code?: unknown }).code)}`;
  if ((result.result as { resultType?: unknown }).resultType === 'input_required') return 'input_required';
  return result.outcome === 'upstream_error' ? 'tool_error' : 'ok';
}
