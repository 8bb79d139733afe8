/**
 * How a decision that stops a call reaches the agent: a normal tools/call result with isError, whose text starts
 * with "Policy violation:" and says why, and the machine-readable part under `_meta["airlock/decision"]`. Never
 * `structuredContent`: SDK clients validate it against the tool's outputSchema (mcp-protocol.md §3).
 */
import type { Result } from '../proxy/sdk.js';

const DECISION_META_KEY = 'airlock/decision';

export interface DecisionDetail {
  decision: 'deny' | 'rate_limited' | 'reject' | 'expired' | 'cancelled' | 'pending';
  rule: string;
  reason: string;
  approvalId?: string;
  retryAfterSeconds?: number;
}

export function violationResult(detail: DecisionDetail): Result {
  return {
    content: [{ type: 'text', text: `Policy violation: ${detail.reason}` }],
    isError: true,
    _meta: { [DECISION_META_KEY]: detail },
  };
}
