/**
 * Checks and records every limit the policy matched, all or none, in one store call. A denied call uses no
 * quota; a call whose upstream then fails gets its quota back (the forward stage refunds). When the store is
 * unreachable the call is refused (fail closed) unless the operator chose fail-open.
 */
import { AirlockError } from '../errors/airlock-error.js';
import type { LimitStore } from '../limits/limit-store.js';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import { ProtocolError, ProtocolErrorCode } from '../proxy/sdk.js';
import { formatDuration } from '../util/duration.js';
import { violationResult } from './decision-result.js';
import type { Stage } from './tool-call.js';

export function limitsStage(store: LimitStore, options: { failOpen: boolean; logger: Logger; metrics?: Metrics }): Stage {
  return {
    name: 'limits',
    async run(call, context) {
      const limits = context.decision?.limits ?? [];
      if (limits.length === 0) return { kind: 'continue' };
      let check;
      try {
        check = await store.consume(limits, { callId: call.callId });
      } catch (error) {
        options.metrics?.limiterResult('unavailable');
        const reason = error instanceof AirlockError ? error.message : String(error);
        if (options.failOpen) {
          options.logger.warn({ callId: call.callId, err: reason }, 'rate limiter unavailable; failing open');
          return { kind: 'continue' };
        }
        return {
          kind: 'error',
          error: new ProtocolError(ProtocolErrorCode.InternalError, `Rate limiter unavailable, so the call was not run: ${reason}`, {
            airlock: { code: 'LIMITER_UNAVAILABLE' },
          }),
        };
      }
      options.metrics?.limiterResult(check.allowed ? 'allowed' : 'denied');
      if (check.allowed) {
        context.reservation = check.reservation;
        return { kind: 'continue' };
      }
      const { exceeded, retryAfterMs } = check;
      // on_exceed: require_approval turns the excess call into one a human must approve instead of a refusal.
      if (exceeded.onExceed === 'require_approval' && exceeded.approval && context.approvalAvailable) {
        context.approvalNeeded = { rule: exceeded.rule, spec: exceeded.approval };
        return { kind: 'continue' };
      }
      const finite = Number.isFinite(retryAfterMs);
      const retryAfterSeconds = finite ? Math.ceil(retryAfterMs / 1000) : undefined;
      const reason =
        `rate limit "${exceeded.counter}" reached (at most ${exceeded.max} per ${formatDuration(exceeded.windowMs)}); ` +
        (finite ? `retry after ${retryAfterSeconds} s.` : 'this call can never fit in that limit.');
      return {
        kind: 'respond',
        outcome: 'rate_limited',
        result: violationResult({ decision: 'rate_limited', rule: exceeded.rule, reason, ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}) }),
      };
    },
  };
}
