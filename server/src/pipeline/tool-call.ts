/**
 * The values that travel through the tools/call pipeline. A decision is a value (StageResult), never a throw:
 * each stage can be tested without a server.
 */
import type { ApprovalSpec, Caller, PolicyDecision } from '../policy/index.js';
import type { ProtocolError, Result, ServerContext } from '../proxy/sdk.js';
import type { UpstreamLink } from '../proxy/upstream/upstream-link.js';

/** Who calls: the grant an API key maps to (stdio callers are `local`), its agent label and session. */
export type { Caller };

export interface ToolCall {
  readonly callId: string;
  /** The name the agent used (`github__create_issue` on /mcp, `create_issue` on /mcp/github). */
  readonly exposedName: string;
  /** Canonical names: policies and audit rows use these, never the exposed name. */
  readonly server: string;
  readonly tool: string;
  readonly args: Record<string, unknown>;
  /** The request params as the upstream will receive them (name rewritten, everything else untouched). */
  readonly params: Record<string, unknown>;
  readonly caller: Caller;
}

/** Per-call state and I/O handles, kept apart from the immutable stage objects built once at start. */
export interface CallContext {
  readonly mcp: ServerContext;
  readonly links: ReadonlyMap<string, UpstreamLink>;
  /** Whether an approval stage follows; without one a call needing approval is refused. */
  readonly approvalAvailable: boolean;
  /** Set by the policy stage. */
  decision?: PolicyDecision;
  /** Set by the limits stage: quota to give back if the upstream fails. */
  reservation?: string;
  /** Set by the policy or limits stage when a human must approve the call first. */
  approvalNeeded?: { rule: string; spec: ApprovalSpec };
  /** Set by the approval stage: the approval this call runs under. */
  approvalId?: string;
  /** Set by the forward stage: the upstream call's duration excludes every wait before it. */
  forwardStartedAt?: number;
}

export const OUTCOMES = ['executed', 'upstream_error', 'denied', 'rate_limited', 'pending', 'rejected', 'expired', 'cancelled'] as const;
export type Outcome = (typeof OUTCOMES)[number];

export type StageResult =
  | { kind: 'continue' }
  | { kind: 'respond'; outcome: Outcome; result: Result }
  | { kind: 'error'; error: ProtocolError };

export interface Stage {
  readonly name: string;
  run(call: ToolCall, context: CallContext): Promise<StageResult>;
}
