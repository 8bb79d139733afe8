/**
 * Test scaffolding for the API layer: an in-memory ApprovalDesk with the real desk's decision semantics (first
 * decision wins and later ones learn who won, only listed approvers decide, nobody decides a call of their own
 * grant, quorum votes). Not the approval service; the real one is tested against the same routes by the lead.
 */
import type {
  Actor,
  Approval,
  ApprovalDesk,
  ApprovalEvent,
  ApprovalListStatus,
  ApprovalNotification,
  DecideOutcome,
  DecisionBody,
} from '../../approval/approval.js';
import { isOpen } from '../../approval/open-statuses.js';

export class MemoryDesk implements ApprovalDesk {
  readonly #approvals = new Map<string, Approval>();
  readonly #listeners = new Set<(event: ApprovalEvent) => void>();
  #nextId = 1;

  #now = Date.parse('2026-01-01T00:00:00Z');

  get listenerCount(): number {
    return this.#listeners.size;
  }

  /** Holds a new call for approval, as the gateway would, and announces it. */
  add(overrides: Partial<Omit<Approval, 'spec'>> & { spec?: Partial<Approval['spec']> } = {}): Approval {
    const requestedAt = this.#tick();
    const { spec, ...rest } = overrides;
    const approval: Approval = {
      id: `apr_${this.#nextId++}`,
      status: 'pending',
      server: 'payments',
      tool: 'create_refund',
      grant: 'support-bot',
      agent: null,
      sessionId: null,
      args: { amount: 'sha256:…' },
      argsHash: 'sha256:0000',
      policyVersion: 'v1',
      rule: '/tools/create_refund',
      spec: { approvers: ['web:admin'], quorum: 1, timeoutMs: 3_600_000, onTimeout: 'reject', channels: [], ...spec },
      requestedAt,
      expiresAt: new Date(Date.parse(requestedAt) + 3_600_000).toISOString(),
      decidedAt: null,
      decidedBy: null,
      decidedVia: null,
      reason: null,
      joinedCount: 1,
      votes: [],
      execution: null,
      notifications: [],
      toolAnnotations: null,
      ...rest,
    };
    this.#approvals.set(approval.id, approval);
    this.#emit('created', approval);
    return structuredClone(approval);
  }

  async list(filter: { status?: ApprovalListStatus; limit?: number } = {}): Promise<Approval[]> {
    // Oldest first: the queue is worked in arrival order.
    const matching = [...this.#approvals.values()]
      .filter((approval) => filter.status === undefined || approval.status === filter.status || (filter.status === 'open' && isOpen(approval.status)))
      .sort((a, b) => a.requestedAt.localeCompare(b.requestedAt));
    return structuredClone(matching.slice(0, filter.limit));
  }

  async get(id: string): Promise<Approval | undefined> {
    const approval = this.#approvals.get(id);
    return approval && structuredClone(approval);
  }

  async decide(id: string, body: DecisionBody, actor: Actor): Promise<DecideOutcome> {
    const approval = this.#approvals.get(id);
    if (!approval) return { ok: false, code: 'NOT_FOUND', message: `No approval "${id}"` };
    if (!isOpen(approval.status)) {
      return {
        ok: false,
        code: 'ALREADY_DECIDED',
        message: `Approval "${id}" was already decided by ${approval.decidedBy} at ${approval.decidedAt} (${approval.status})`,
        approval: structuredClone(approval),
      };
    }
    // Groups are the real service's business; here approvers are listed one by one.
    if (!approval.spec.approvers.includes(actor.id)) {
      return { ok: false, code: 'NOT_AN_APPROVER', message: `${actor.id} is not an approver of "${id}" (approvers: ${approval.spec.approvers.join(', ')})` };
    }
    if (actor.grants?.includes(approval.grant)) {
      return { ok: false, code: 'SELF_APPROVAL', message: `${actor.id} acts as grant "${approval.grant}", which made this call, and may not decide it` };
    }
    if (approval.votes.some((vote) => vote.approver === actor.id)) {
      return { ok: false, code: 'ALREADY_VOTED', message: `${actor.id} has already voted on "${id}"` };
    }
    const at = this.#tick();
    approval.votes.push({ approver: actor.id, decision: body.decision, via: actor.via, reason: body.reason ?? null, at });
    const approvals = approval.votes.filter((vote) => vote.decision === 'approve').length;
    // One rejection decides; approval waits for the quorum.
    const final = body.decision === 'reject' || approvals >= approval.spec.quorum;
    if (final) {
      Object.assign(approval, {
        status: body.decision === 'reject' ? 'rejected' : 'approved',
        decidedAt: at,
        decidedBy: actor.id,
        decidedVia: actor.via,
        reason: body.reason ?? null,
      } satisfies Partial<Approval>);
    }
    this.#emit(final ? 'decided' : 'voted', approval);
    return { ok: true, approval: structuredClone(approval), final };
  }

  async recordNotification(id: string, notification: ApprovalNotification): Promise<void> {
    const approval = this.#approvals.get(id);
    if (!approval) return;
    const known = approval.notifications.some((n) => n.kind === notification.kind && n.channel === notification.channel && n.ts === notification.ts);
    if (!known) approval.notifications.push({ ...notification });
  }

  /** The API never adds jobs, and this desk has no outbox to write them to. */
  addChangeJobs(): () => void {
    throw new Error('MemoryDesk writes no jobs');
  }

  subscribe(listener: (event: ApprovalEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  #emit(type: ApprovalEvent['type'], approval: Approval): void {
    for (const listener of this.#listeners) listener({ type, approval: structuredClone(approval) });
  }

  /** Each change gets a later timestamp, so "at T" and the queue order are deterministic. */
  #tick(): string {
    this.#now += 1000;
    return new Date(this.#now).toISOString();
  }
}
