/**
 * The SQL of approvals, on the Db seam (PGlite and PostgreSQL run it unchanged). The row is the truth: every
 * state change is one conditional UPDATE, so the first of approve, reject, expiry, cancellation wins and the
 * others change nothing. No business rules here beyond what the statements guarantee.
 */
import type { Db } from '../db/db.js';
import type { ApprovalSpec } from '../policy/index.js';
import type { ToolAnnotations } from '../route/tool-annotations.js';
import type { Approval, ApprovalListStatus, ApprovalNotification, ApprovalStatus, DecisionChannel, Vote } from './approval.js';
import { isOpen, OPEN_STATUSES } from './open-statuses.js';

interface ApprovalRow {
  id: string;
  status: ApprovalStatus;
  binding_hash: string;
  server: string;
  tool: string;
  grant_name: string;
  agent: string | null;
  session_id: string | null;
  args_redacted: Record<string, unknown>;
  args_hash: string;
  policy_version: string;
  rule: string;
  approval_spec: ApprovalSpec;
  requested_at: Date;
  expires_at: Date;
  decided_at: Date | null;
  decided_by: string | null;
  decided_via: DecisionChannel | null;
  reason: string | null;
  joined_count: number;
  execution_status: 'running' | 'succeeded' | 'failed' | null;
  upstream_status: string | null;
  executed_at: Date | null;
  execution_ms: number | null;
  notifications: ApprovalNotification[];
  tool_annotations: ToolAnnotations | null;
  votes: VoteRow[] | string;
}

interface VoteRow {
  approver: string;
  decision: 'approve' | 'reject';
  via: DecisionChannel;
  reason: string | null;
  decided_at: string;
}

/**
 * Every statement that returns approvals returns their votes with them, in the same round trip: on the decision
 * path each statement saved is latency saved.
 */
const WITH_VOTES = `approvals.*, (SELECT coalesce(json_agg(json_build_object('approver', d.approver, 'decision', d.decision,
  'via', d.via, 'reason', d.reason, 'decided_at', d.decided_at) ORDER BY d.decided_at), '[]'::json)
  FROM approval_decisions d WHERE d.approval_id = approvals.id) AS votes`;

export interface NewApproval {
  id: string;
  bindingHash: string;
  server: string;
  tool: string;
  grant: string;
  agent: string | null;
  sessionId: string | null;
  argsRedacted: Record<string, unknown>;
  argsHash: string;
  policyVersion: string;
  rule: string;
  spec: ApprovalSpec;
  requestedAt: Date;
  expiresAt: Date;
  ownerInstance: string;
  toolAnnotations: ToolAnnotations | undefined;
}

const iso = (date: Date | null) => (date === null ? null : new Date(date).toISOString());

function toApproval(row: ApprovalRow): Approval {
  // PGlite returns json as text where node-postgres parses it.
  const votes: VoteRow[] = typeof row.votes === 'string' ? JSON.parse(row.votes) : row.votes;
  return {
    id: row.id,
    status: row.status,
    server: row.server,
    tool: row.tool,
    grant: row.grant_name,
    agent: row.agent,
    sessionId: row.session_id,
    args: row.args_redacted,
    argsHash: row.args_hash,
    policyVersion: row.policy_version,
    rule: row.rule,
    spec: row.approval_spec,
    requestedAt: iso(row.requested_at)!,
    expiresAt: iso(row.expires_at)!,
    decidedAt: iso(row.decided_at),
    decidedBy: row.decided_by,
    decidedVia: row.decided_via,
    reason: row.reason,
    joinedCount: row.joined_count,
    votes: votes.map((v): Vote => ({ approver: v.approver, decision: v.decision, via: v.via, reason: v.reason, at: iso(new Date(v.decided_at))! })),
    execution:
      row.execution_status === null
        ? null
        : { status: row.execution_status, upstreamStatus: row.upstream_status, at: iso(row.executed_at), durationMs: row.execution_ms },
    notifications: row.notifications,
    toolAnnotations: row.tool_annotations ?? null,
  };
}


/**
 * Inserts a pending approval, or joins the open one with the same binding: the partial unique index on open
 * bindings (migration 0007) makes concurrent identical calls race, and the loser's insert becomes the join. An
 * abandoned approval is reopened by the join: pending again, held by the joining instance, its closing columns
 * cleared (its votes and messages stay). Answers undefined, changing nothing, when that open approval's time is up
 * (at `requestedAt`): it is not joined, and the caller applies its on_timeout (lapsedOpen) before asking again.
 */
export async function insertOrJoin(tx: Db, input: NewApproval): Promise<{ approval: Approval; joined: boolean } | undefined> {
  const [row] = await tx.query<ApprovalRow & { inserted: boolean }>(
    `INSERT INTO approvals (id, binding_hash, server, tool, grant_name, agent, session_id, args_redacted, args_hash,
                            policy_version, rule, approval_spec, requested_at, expires_at, owner_instance, tool_annotations)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11, $12::jsonb, $13::timestamptz, $14::timestamptz, $15, $16::jsonb)
     ON CONFLICT (binding_hash) WHERE status IN ('pending', 'abandoned')
     DO UPDATE SET joined_count = approvals.joined_count + 1, status = 'pending',
       owner_instance = CASE WHEN approvals.status = 'abandoned' THEN EXCLUDED.owner_instance ELSE approvals.owner_instance END,
       decided_at = NULL, decided_by = NULL, decided_via = NULL, reason = NULL
     WHERE approvals.expires_at > EXCLUDED.requested_at
     RETURNING ${WITH_VOTES}, (xmax = 0) AS inserted`,
    [
      input.id,
      input.bindingHash,
      input.server,
      input.tool,
      input.grant,
      input.agent,
      input.sessionId,
      JSON.stringify(input.argsRedacted),
      input.argsHash,
      input.policyVersion,
      input.rule,
      JSON.stringify(input.spec),
      input.requestedAt.toISOString(),
      input.expiresAt.toISOString(),
      input.ownerInstance,
      input.toolAnnotations === undefined ? null : JSON.stringify(input.toolAnnotations),
    ],
  );
  return row && { approval: toApproval(row), joined: !row.inserted };
}

/** The open approvals of this binding whose time is up at `now`, locked for their expiry. */
export async function lapsedOpen(tx: Db, bindingHash: string, now: Date): Promise<Approval[]> {
  const rows = await tx.query<ApprovalRow>(
    `SELECT ${WITH_VOTES} FROM approvals WHERE binding_hash = $1 AND status = ANY($2::text[]) AND expires_at <= $3::timestamptz FOR UPDATE`,
    [bindingHash, OPEN_STATUSES, now.toISOString()],
  );
  return rows.map(toApproval);
}

export async function getApproval(db: Db, id: string, forUpdate = false): Promise<Approval | undefined> {
  const rows = await db.query<ApprovalRow>(`SELECT ${WITH_VOTES} FROM approvals WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`, [id]);
  return rows[0] && toApproval(rows[0]);
}

export async function listApprovals(db: Db, filter: { status?: ApprovalListStatus; limit?: number } = {}): Promise<Approval[]> {
  const limit = Math.min(Math.max(filter.limit ?? 100, 1), 1000);
  // Work still to decide is read oldest first (the queue); history newest first.
  const statuses = filter.status === 'open' ? [...OPEN_STATUSES] : filter.status && [filter.status];
  const rows =
    statuses === undefined
      ? await db.query<ApprovalRow>(`SELECT ${WITH_VOTES} FROM approvals ORDER BY requested_at DESC LIMIT $1`, [limit])
      : await db.query<ApprovalRow>(
          `SELECT ${WITH_VOTES} FROM approvals WHERE status = ANY($1::text[])
           ORDER BY requested_at ${statuses.every(isOpen) ? 'ASC' : 'DESC'} LIMIT $2`,
          [statuses, limit],
        );
  return rows.map(toApproval);
}

/** Records one approver's vote; false when that approver already voted. */
export async function insertVote(tx: Db, id: string, vote: Omit<Vote, 'at'>, at: Date): Promise<boolean> {
  const rows = await tx.query(
    `INSERT INTO approval_decisions (approval_id, approver, decision, via, reason, decided_at)
     VALUES ($1, $2, $3, $4, $5, $6::timestamptz) ON CONFLICT DO NOTHING RETURNING approver`,
    [id, vote.approver, vote.decision, vote.via, vote.reason, at.toISOString()],
  );
  return rows.length === 1;
}

export async function countApprovingVotes(tx: Db, id: string): Promise<number> {
  const [row] = await tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM approval_decisions WHERE approval_id = $1 AND decision = 'approve'`, [id]);
  return row?.n ?? 0;
}

/** The one statement that decides: it changes the row only if nothing decided it first. */
export async function closeApproval(
  tx: Db,
  id: string,
  change: { status: Exclude<ApprovalStatus, 'pending'>; by: string; via: DecisionChannel; reason: string | null; at: Date },
): Promise<Approval | undefined> {
  const rows = await tx.query<ApprovalRow>(
    `UPDATE approvals SET status = $2, decided_by = $3, decided_via = $4, reason = $5, decided_at = $6::timestamptz
     WHERE id = $1 AND status = ANY($7::text[]) RETURNING ${WITH_VOTES}`,
    [id, change.status, change.by, change.via, change.reason, change.at.toISOString(), OPEN_STATUSES],
  );
  return rows[0] && toApproval(rows[0]);
}

/** What of an approval can change while a call waits on it, besides the decision itself. */
export interface DecidedColumns {
  joined_count: number;
  notifications: ApprovalNotification[];
}

/**
 * closeApproval for an approval whose row the caller already has (a call waits on it here), as an audit gate
 * (AppendGate): it returns only what may have changed since, and with `claim` also claims the approval for that
 * waiting call, so from the decision to the upstream nothing else touches the database. A human decision counts only
 * before expires_at: at or after it the gate changes nothing, whether or not the expiry job has run yet.
 */
export function decisionGate(
  id: string,
  change: { status: 'approved' | 'rejected'; by: string; via: DecisionChannel; reason: string | null; at: Date; claim: boolean },
): { sql: string; params: unknown[] } {
  return {
    sql: `UPDATE approvals SET status = $2, decided_by = $3, decided_via = $4, reason = $5, decided_at = $6::timestamptz
            ${change.claim ? `, consumed_at = $6::timestamptz, execution_status = 'running'` : ''}
          WHERE id = $1 AND status = ANY($7::text[]) AND expires_at > $6::timestamptz RETURNING joined_count, notifications`,
    params: [id, change.status, change.by, change.via, change.reason, change.at.toISOString(), OPEN_STATUSES],
  };
}

/** Gives back a claim nobody used: the call it was taken for had gone, and the identical retry may still run. */
export async function releaseClaim(db: Db, id: string): Promise<void> {
  await db.query(`UPDATE approvals SET consumed_at = NULL, execution_status = NULL WHERE id = $1 AND execution_status = 'running'`, [id]);
}

/** A waiting call went away: one fewer joined call, or the approval is cancelled when it was the last. */
export async function leave(tx: Db, id: string): Promise<'left' | 'last' | 'closed'> {
  const [row] = await tx.query<{ joined_count: number }>(
    `UPDATE approvals SET joined_count = joined_count - 1 WHERE id = $1 AND status = 'pending' AND joined_count > 1 RETURNING joined_count`,
    [id],
  );
  if (row) return 'left';
  const [open] = await tx.query(`SELECT 1 FROM approvals WHERE id = $1 AND status = 'pending'`, [id]);
  return open ? 'last' : 'closed';
}

/**
 * Claims an approved approval for the one call that may run under it. Single use: the claim and the check are
 * one statement, so two retries racing for it cannot both win. An approval stays claimable for its timeout after
 * the decision.
 */
export async function claimApproved(tx: Db, bindingHash: string, now: Date): Promise<Approval | undefined> {
  const rows = await tx.query<ApprovalRow>(
    `UPDATE approvals SET consumed_at = $2::timestamptz, execution_status = 'running'
     WHERE id = (SELECT id FROM approvals
                 WHERE binding_hash = $1 AND status = 'approved' AND consumed_at IS NULL
                   AND decided_at + ((approval_spec->>'timeoutMs')::bigint * interval '1 millisecond') > $2::timestamptz
                 ORDER BY decided_at DESC LIMIT 1)
       AND consumed_at IS NULL
     RETURNING ${WITH_VOTES}`,
    [bindingHash, now.toISOString()],
  );
  return rows[0] && toApproval(rows[0]);
}

/** Claims one specific approved approval (a call that waited on it). */
export async function claimById(tx: Db, id: string, now: Date): Promise<Approval | undefined> {
  const rows = await tx.query<ApprovalRow>(
    `UPDATE approvals SET consumed_at = $2::timestamptz, execution_status = 'running'
     WHERE id = $1 AND status = 'approved' AND consumed_at IS NULL RETURNING ${WITH_VOTES}`,
    [id, now.toISOString()],
  );
  return rows[0] && toApproval(rows[0]);
}

export async function recordExecution(
  tx: Db,
  id: string,
  outcome: { status: 'succeeded' | 'failed'; upstreamStatus: string; durationMs: number; at: Date },
): Promise<Approval | undefined> {
  const rows = await tx.query<ApprovalRow>(
    `UPDATE approvals SET execution_status = $2, upstream_status = $3, execution_ms = $4, executed_at = $5::timestamptz
     WHERE id = $1 RETURNING ${WITH_VOTES}`,
    [id, outcome.status, outcome.upstreamStatus, Math.round(outcome.durationMs), outcome.at.toISOString()],
  );
  return rows[0] && toApproval(rows[0]);
}

/**
 * Those of `ids` that are decided. An abandoned approval is still open: the instance that held its call stopped,
 * but a call joined to it from another instance still waits for a decision.
 */
export async function listDecided(db: Db, ids: readonly string[]): Promise<Approval[]> {
  const rows = await db.query<ApprovalRow>(`SELECT ${WITH_VOTES} FROM approvals WHERE id = ANY($1::text[]) AND status <> ALL($2::text[])`, [ids, OPEN_STATUSES]);
  return rows.map(toApproval);
}

export async function dueForExpiry(db: Db, now: Date): Promise<string[]> {
  const rows = await db.query<{ id: string }>(
    `SELECT id FROM approvals WHERE status = ANY($1::text[]) AND expires_at <= $2::timestamptz ORDER BY expires_at`,
    [OPEN_STATUSES, now.toISOString()],
  );
  return rows.map((r) => r.id);
}

/** Every approval that can still expire, with when. */
export async function openExpiries(db: Db): Promise<{ id: string; expiresAt: Date }[]> {
  const rows = await db.query<{ id: string; expires_at: Date }>(`SELECT id, expires_at FROM approvals WHERE status = ANY($1::text[])`, [OPEN_STATUSES]);
  return rows.map((row) => ({ id: row.id, expiresAt: new Date(row.expires_at) }));
}

export async function nextExpiry(db: Db): Promise<Date | undefined> {
  const [row] = await db.query<{ at: Date | null }>(`SELECT min(expires_at) AS at FROM approvals WHERE status = ANY($1::text[])`, [OPEN_STATUSES]);
  return row?.at ? new Date(row.at) : undefined;
}

export async function pendingIds(db: Db, ownerInstance?: string): Promise<string[]> {
  const rows =
    ownerInstance === undefined
      ? await db.query<{ id: string }>(`SELECT id FROM approvals WHERE status = 'pending'`)
      : await db.query<{ id: string }>(`SELECT id FROM approvals WHERE status = 'pending' AND owner_instance = $1`, [ownerInstance]);
  return rows.map((r) => r.id);
}

export async function addNotification(db: Db, id: string, notification: ApprovalNotification): Promise<void> {
  await db.query(
    `UPDATE approvals SET notifications = notifications || $2::jsonb WHERE id = $1 AND NOT notifications @> $2::jsonb`,
    [id, JSON.stringify([notification])],
  );
}
