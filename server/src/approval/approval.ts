/**
 * The approval record and the narrow interface the Slack app, the console and the REST API use to read and decide
 * approvals (DESIGN.md §1: decide, list, subscribe). The gateway's own side — requesting, holding, expiring,
 * consuming — is in approval-service.ts.
 */
import { z } from 'zod';

import type { RetryOptions } from '../jobs/job-queue.js';
import type { OutboxJob } from '../jobs/outbox.js';
import type { ApprovalSpec } from '../policy/index.js';
import type { ToolAnnotations } from '../route/tool-annotations.js';

export const APPROVAL_STATUSES = ['pending', 'approved', 'rejected', 'expired', 'cancelled', 'abandoned'] as const;
export type ApprovalStatus = (typeof APPROVAL_STATUSES)[number];
/**
 * A list filter: one status, or `open` for every approval a decision still applies to, pending or abandoned (the
 * gateway stopped while holding the call; the agent's retry gets the decision). The queue lists the open ones.
 */
export type ApprovalListStatus = ApprovalStatus | 'open';
export const APPROVAL_LIST_STATUSES = [...APPROVAL_STATUSES, 'open'] as const;

/** Where a decision came from. `system` is expiry, cancellation and restart recovery. */
export const DECISION_CHANNELS = ['slack', 'web', 'api', 'system'] as const;
export type DecisionChannel = (typeof DECISION_CHANNELS)[number];

export const DecisionBodySchema = z.strictObject({
  decision: z.enum(['approve', 'reject']),
  reason: z.string().max(2000).optional(),
});
export type DecisionBody = z.output<typeof DecisionBodySchema>;

export interface Vote {
  approver: string;
  decision: 'approve' | 'reject';
  via: DecisionChannel;
  reason: string | null;
  at: string;
}

export interface Approval {
  id: string;
  status: ApprovalStatus;
  server: string;
  tool: string;
  grant: string;
  agent: string | null;
  sessionId: string | null;
  /** Redacted as in the audit log: keys kept, values hashed unless the operator keeps them; secrets never. */
  args: Record<string, unknown>;
  argsHash: string;
  policyVersion: string;
  /** JSON Pointer of the rule that asked for approval. */
  rule: string;
  /** The rule's approval block with defaults applied (approvers, quorum, timeoutMs, onTimeout, channels). */
  spec: ApprovalSpec;
  requestedAt: string;
  expiresAt: string;
  decidedAt: string | null;
  /** `slack:U…`, `web:alice`, or `system` for expiry, cancellation and restarts. */
  decidedBy: string | null;
  decidedVia: DecisionChannel | null;
  reason: string | null;
  /** How many identical calls asked for this approval. */
  joinedCount: number;
  votes: Vote[];
  execution: { status: 'running' | 'succeeded' | 'failed'; upstreamStatus: string | null; at: string | null; durationMs: number | null } | null;
  /** Where the request was posted (a Slack message's channel and ts), so any instance can update it later. */
  notifications: ApprovalNotification[];
  /** What the upstream declared about the tool when the call was held: hints for approvers, never a verdict. */
  toolAnnotations: ToolAnnotations | null;
}

export interface ApprovalNotification {
  kind: 'slack';
  channel: string;
  ts: string;
  /** The channel as the request named it (`#payments`), when Slack answered with another name for it (its id). */
  requested?: string;
}

/**
 * A change to an approval. `abandoned`: the gateway holding its call stopped; it is still open (decidable, and a
 * call joined to it on another instance still waits), so it wakes no call and cancels no expiry, unlike `decided`.
 */
export type ApprovalEvent = { type: 'created' | 'joined' | 'voted' | 'decided' | 'abandoned' | 'executed'; approval: Approval };

/**
 * Jobs that must follow changes (Slack's messages): `jobsFor` runs inside each change's transaction, on the
 * instance making the change, and what it answers is written to the outbox with the change. So the jobs run once
 * per change, not once per instance that hears of it, and are queued after the commit even if the process dies
 * right then.
 */
export interface ChangeJobs {
  /** Every kind `jobsFor` answers, with how hard the queue tries it. */
  kinds: Readonly<Record<string, RetryOptions>>;
  /** Pure and quick: it runs inside the transaction, and a throw rolls the change back. */
  jobsFor(event: ApprovalEvent): readonly OutboxJob[];
}

/** Who is deciding. `id` is what approver lists name: `slack:U024BE7LH`, `web:alice`. */
export interface Actor {
  id: string;
  via: Exclude<DecisionChannel, 'system'>;
  /** Grants this person also acts as (a console user linked to an agent's key): they may not approve those calls. */
  grants?: readonly string[];
}

export type DecideOutcome =
  | { ok: true; approval: Approval; /** false while a quorum still waits for more approvals */ final: boolean }
  | {
      ok: false;
      code: 'NOT_FOUND' | 'ALREADY_DECIDED' | 'NOT_AN_APPROVER' | 'SELF_APPROVAL' | 'ALREADY_VOTED';
      message: string;
      approval?: Approval;
    };

/** What Slack, the console and the REST API may do with approvals; nothing else. */
export interface ApprovalDesk {
  list(filter?: { status?: ApprovalListStatus; limit?: number }): Promise<Approval[]>;
  get(id: string): Promise<Approval | undefined>;
  decide(id: string, body: DecisionBody, actor: Actor): Promise<DecideOutcome>;
  /** Calls the listener after every change is committed, on this instance; returns the unsubscribe function. */
  subscribe(listener: (event: ApprovalEvent) => void): () => void;
  /** Remembers where the request was posted (idempotent for the same channel and ts). */
  recordNotification(id: string, notification: ApprovalNotification): Promise<void>;
  /** Writes these jobs with every later change; returns the function that stops it. */
  addChangeJobs(jobs: ChangeJobs): () => void;
}
