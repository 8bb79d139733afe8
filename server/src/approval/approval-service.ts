/**
 * The approval service: the one place approvals are created, decided, expired, cancelled and claimed. Slack,
 * the console and the REST API see it as an ApprovalDesk; the pipeline's approval stage uses the rest.
 *
 * Every change is a transaction holding the conditional UPDATE and its audit event, so a change and its audit
 * row commit together or not at all, and the first of approve, reject, expiry and cancellation wins. Listeners
 * and waiting calls hear of a change only after it committed. The jobs that must follow a change (its expiry,
 * Slack's messages) are outbox rows of the same transaction, which this instance's relay hands to the queue.
 */
import { randomUUID } from 'node:crypto';

import type { AuditEvent } from '../audit/audit-event.js';
import type { AuditLog } from '../audit/audit-log.js';
import { redactArgs } from '../audit/redact.js';
import type { EventBus } from '../bus/event-bus.js';
import { RetryAfter, type JobQueue, type RetryOptions } from '../jobs/job-queue.js';
import { OutboxRelay, writeOutbox, type OutboxJob } from '../jobs/outbox.js';
import type { Scheduler } from '../jobs/scheduler.js';
import type { Db } from '../db/db.js';
import { AirlockError } from '../errors/airlock-error.js';
import type { Logger } from '../log/logger.js';
import type { ApprovalSpec, Caller } from '../policy/index.js';
import type { ToolAnnotations } from '../route/tool-annotations.js';
import { canonicalJson, hashJson, sha256Hex, type JsonObject } from '../util/canonical-json.js';
import type { Clock } from '../util/clock.js';
import { formatDuration, MAX_TIMER_MS } from '../util/duration.js';
import type {
  Actor,
  Approval,
  ApprovalDesk,
  ApprovalEvent,
  ApprovalListStatus,
  ApprovalNotification,
  ApprovalStatus,
  ChangeJobs,
  DecideOutcome,
  DecisionBody,
} from './approval.js';
import * as store from './approval-store.js';
import { isOpen } from './open-statuses.js';

export interface HeldCall {
  server: string;
  tool: string;
  args: Record<string, unknown>;
  caller: Caller;
  callId: string;
  policyVersion: string;
  rule: string;
  spec: ApprovalSpec;
  toolAnnotations?: ToolAnnotations;
}

export interface ApprovalServiceOptions {
  db: Db;
  audit: AuditLog;
  clock: Clock;
  logger: Logger;
  /** `group:` names of approver lists, each a list of approver ids (`slack:U…`, `web:alice`). */
  groups?: Readonly<Record<string, readonly string[]>>;
  /** Per grant, the people who run that agent: they may never approve its calls, whichever channel they use. */
  grantOwners?: Readonly<Record<string, readonly string[]>>;
  /** Names this process in approvals it holds (several gateway instances share one database). */
  instanceId?: string;
  /**
   * Fans changes out to the other gateway instances (Redis in scaled mode): a call held here resumes the moment a
   * human decides on another instance, and every instance's listeners (console, Slack) see every change.
   */
  bus?: EventBus;
  /** How often held calls' approvals are re-read, in case a bus message was lost (default 3 s). */
  recheckMs?: number;
  /**
   * Drives expiry as delayed jobs (DESIGN.md §2): one `approval.expire` job per open approval, keyed by its id,
   * written to the outbox with the approval and removed when it is decided. Without a queue, a timer on the next
   * expiry does the same, and no other jobs can follow changes (`addChangeJobs`).
   */
  queue?: JobQueue;
  /**
   * How often open approvals' expiry jobs are armed again (default 60 s): a Redis without persistence loses its
   * jobs when it restarts, and the in-process queue loses them when the process exits.
   */
  rearmMs?: number;
  /** Times the outbox relay's retries and sweeps; tests pass a ManualScheduler. */
  scheduler?: Scheduler;
}

export const EXPIRE_JOB = 'approval.expire';
const expireKey = (id: string) => `${EXPIRE_JOB}:${id}`;
const EXPIRY_RETRY: RetryOptions = { attempts: 5 };

function expiryJob(id: string, expiresAt: Date): OutboxJob<{ approvalId: string }> {
  return { kind: EXPIRE_JOB, key: expireKey(id), payload: { approvalId: id }, runAt: expiresAt.getTime() };
}

/** The bus channel of approval changes; messages carry only ids, every instance re-reads the row. */
const APPROVALS_CHANNEL = 'approvals';

interface ChangeMessage {
  origin: string;
  approvalId: string;
  type: ApprovalEvent['type'];
}

/** What binds a decision to one exact call: the same call by the same grant under the same policy. */
export function bindingHash(call: Pick<HeldCall, 'server' | 'tool' | 'args' | 'caller' | 'policyVersion'>): string {
  return sha256Hex(
    canonicalJson({ server: call.server, tool: call.tool, args: call.args as JsonObject, grant: call.caller.grant, policy: call.policyVersion }),
  );
}

export class ApprovalService implements ApprovalDesk {
  readonly #db: Db;
  readonly #audit: AuditLog;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #groups: Readonly<Record<string, readonly string[]>>;
  readonly #grantOwners: Readonly<Record<string, readonly string[]>>;
  readonly #instanceId: string;
  readonly #listeners = new Set<(event: ApprovalEvent) => void>();
  /**
   * Approvals calls wait on here: each as it was when last held (what #decideHeld decides without reading it) and
   * the calls to wake when it is decided.
   */
  readonly #waiting = new Map<string, { approval: Approval; wake: Set<(approval: Approval) => void> }>();
  readonly #bus: EventBus | undefined;
  readonly #recheckMs: number;
  readonly #queue: JobQueue | undefined;
  readonly #rearmMs: number;
  readonly #relay: OutboxRelay | undefined;
  readonly #changeJobs = new Set<ChangeJobs>();
  /**
   * The approvals (as the change's event carries them) whose change wrote outbox rows, until the change is published
   * after its commit and wakes the relay. A change rolled back is never published, and its entry goes with it.
   */
  readonly #wroteJobs = new WeakSet<Approval>();
  #rearmTimer: NodeJS.Timeout | undefined;
  #busOff: (() => void)[] = [];
  /** Approvals a decision claimed for a call waiting here, until that call takes the claim (see claim()). */
  readonly #claimed = new Map<string, Approval>();
  #recheckTimer: NodeJS.Timeout | undefined;
  #expiryTimer: NodeJS.Timeout | undefined;
  /** When the armed expiry timer fires (ms since the epoch), if one is armed. */
  #expiryAt: number | undefined;
  /** Each recordExecution() under way, as a promise that never rejects: the pipeline does not wait for them, close() does. */
  readonly #recording = new Set<Promise<unknown>>();
  #closed = false;

  constructor(options: ApprovalServiceOptions) {
    this.#db = options.db;
    this.#audit = options.audit;
    this.#clock = options.clock;
    this.#logger = options.logger;
    this.#groups = options.groups ?? {};
    this.#grantOwners = options.grantOwners ?? {};
    this.#instanceId = options.instanceId ?? randomUUID();
    this.#bus = options.bus;
    this.#recheckMs = options.recheckMs ?? 3000;
    this.#queue = options.queue;
    this.#rearmMs = options.rearmMs ?? 60_000;
    this.#relay =
      options.queue &&
      new OutboxRelay({ db: options.db, queue: options.queue, logger: options.logger, kinds: { [EXPIRE_JOB]: EXPIRY_RETRY }, scheduler: options.scheduler });
  }

  /**
   * Starts the background work: the outbox relay (rows a dead instance left are handed over now), expiry jobs
   * (armed again for every open approval, so a queue that lost its jobs loses no expiry) and listening to the other
   * instances' changes. Resolves once subscribed, so nothing published later is missed.
   */
  async start(): Promise<void> {
    if (this.#queue) {
      this.#queue.handle<{ approvalId: string }>(EXPIRE_JOB, (job) => this.#expireJob(job.payload.approvalId));
      this.#relay!.start();
      await this.#rearmExpiries();
      this.#rearmTimer = setInterval(() => void this.#rearmExpiries(), this.#rearmMs);
      this.#rearmTimer.unref();
    }
    if (!this.#bus) return;
    // Not awaited: with Redis away the SUBSCRIBE waits for it, and the gateway must start meanwhile (its /readyz
    // says Redis is down). Until the subscription is active the re-read below carries other instances' decisions;
    // once it is, one re-read catches any published before.
    this.#bus.subscribe(APPROVALS_CHANNEL, (message) => this.#onRemoteChange(message as ChangeMessage)).then(
      (off) => {
        if (this.#closed) return off();
        this.#busOff.push(off);
        void this.#recheckWaiting();
      },
      (error: Error) => this.#logger.warn({ err: error.message }, 'could not subscribe to approval changes; relying on the periodic re-read'),
    );
    this.#busOff.push(this.#bus.onReconnect(() => void this.#recheckWaiting()));
    // The safety net for a message lost between instances: held calls' approvals are re-read now and then.
    this.#recheckTimer = setInterval(() => void this.#recheckWaiting(), this.#recheckMs);
    this.#recheckTimer.unref();
  }

  async #onRemoteChange(message: ChangeMessage): Promise<void> {
    if (message.origin === this.#instanceId) return;
    const approval = await store.getApproval(this.#db, message.approvalId);
    if (approval) this.#notify({ type: message.type, approval });
  }

  async #rearmExpiries(): Promise<void> {
    try {
      for (const { id, expiresAt } of await store.openExpiries(this.#db)) await this.#armExpiryJob(id, expiresAt);
    } catch (error) {
      this.#logger.warn({ err: (error as Error).message }, 'could not arm approval expiry jobs');
    }
  }

  /** Idempotent: the job key keeps one expiry job per approval. */
  async #armExpiryJob(id: string, expiresAt: Date): Promise<void> {
    const { kind, payload, key, runAt } = expiryJob(id, expiresAt);
    await this.#queue!.enqueue(kind, payload, { ...EXPIRY_RETRY, key, runAt });
  }

  /** The expiry job of one approval; early (another clock), it comes back when due. */
  async #expireJob(id: string): Promise<void> {
    const approval = await store.getApproval(this.#db, id);
    if (!approval || !isOpen(approval.status)) return;
    const wait = Date.parse(approval.expiresAt) - this.#clock.now();
    if (wait > 0) throw new RetryAfter(wait);
    await this.#expire(id, new Date(this.#clock.now()));
  }

  /** Wakes local calls whose approvals were decided without this instance hearing of it. */
  async #recheckWaiting(): Promise<void> {
    const ids = [...this.#waiting.keys()];
    if (ids.length === 0) return;
    try {
      for (const approval of await store.listDecided(this.#db, ids)) this.#notify({ type: 'decided', approval });
    } catch (error) {
      this.#logger.warn({ err: (error as Error).message }, 'could not re-read held approvals');
    }
  }

  // ---- the desk: read, decide, subscribe -------------------------------------------------------------------

  list(filter?: { status?: ApprovalListStatus; limit?: number }): Promise<Approval[]> {
    return store.listApprovals(this.#db, filter);
  }

  get(id: string): Promise<Approval | undefined> {
    return store.getApproval(this.#db, id);
  }

  subscribe(listener: (event: ApprovalEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async recordNotification(id: string, notification: ApprovalNotification): Promise<void> {
    await store.addNotification(this.#db, id, notification);
  }

  addChangeJobs(jobs: ChangeJobs): () => void {
    if (!this.#relay) throw new AirlockError('INTERNAL', 'jobs that follow approval changes need a job queue, and this approval service has none');
    this.#changeJobs.add(jobs);
    this.#relay.accept(jobs.kinds);
    return () => void this.#changeJobs.delete(jobs);
  }

  async decide(id: string, body: DecisionBody, actor: Actor): Promise<DecideOutcome> {
    const outcome = (await this.#decideHeld(id, body, actor)) ?? (await this.#decideChecked(id, body, actor));
    // The calls a decision released go upstream first (their forwards run in this turn's microtasks); whoever
    // decided (the API, Slack, the console) hears back a turn later, like the listeners (see #notify).
    if (outcome.event && this.#publish(outcome.event)) await new Promise((resolve) => setImmediate(resolve));
    const { event: _event, ...result } = outcome;
    return result;
  }

  /**
   * The decision that matters most for latency, in one statement: a call waits on this instance, its rule wants
   * one approver, and the actor may decide. The row is already known (rules and callers do not change once held),
   * so the conditional UPDATE, the claim for the waiting call and the audit row go together, and from the decision
   * to the upstream nothing else touches the database. Answers undefined, having changed nothing, whenever the
   * checked path must answer: no call waits here, a quorum, a refusal to explain, a decision that came first, an
   * approval whose time is up (the checked path applies its on_timeout).
   */
  async #decideHeld(id: string, body: DecisionBody, actor: Actor): Promise<DecisionOutcome | undefined> {
    const held = this.#waiting.get(id)?.approval;
    if (!held || held.spec.quorum > 1 || this.#refusal(held, actor)) return undefined;
    const now = new Date(this.#clock.now());
    const status = body.decision === 'approve' ? ('approved' as const) : ('rejected' as const);
    const claim = status === 'approved';
    const reason = body.reason ?? null;
    const staleChain = Symbol('the audit chain moved on');
    try {
      const outcome = await this.#db.transaction(async (tx): Promise<DecisionOutcome | undefined> => {
        const gate = store.decisionGate(id, { status, by: actor.id, via: actor.via, reason, at: now, claim });
        const event = { ...this.#auditBase(held), kind: status, actor: actor.id, via: actor.via, reason: body.reason, occurredAt: now };
        const result = await this.#audit.appendGatedInTransaction<store.DecidedColumns>(tx, gate, event);
        const row = result?.gateRows[0];
        if (!row) return undefined;
        if (!result.appended) throw staleChain;
        const decided: Approval = {
          ...held,
          status,
          decidedAt: now.toISOString(),
          decidedBy: actor.id,
          decidedVia: actor.via,
          reason,
          joinedCount: row.joined_count,
          notifications: row.notifications,
          execution: claim ? { status: 'running', upstreamStatus: null, at: null, durationMs: null } : held.execution,
        };
        return { ok: true, approval: decided, final: true, event: await this.#withJobs(tx, { type: 'decided', approval: decided }) };
      });
      if (claim && outcome?.ok) this.#claimed.set(id, outcome.approval);
      return outcome;
    } catch (error) {
      if (error === staleChain) return undefined;
      throw error;
    }
  }

  async #decideChecked(id: string, body: DecisionBody, actor: Actor): Promise<DecisionOutcome> {
    const now = new Date(this.#clock.now());
    return this.#db.transaction(async (tx): Promise<DecisionOutcome> => {
      const approval = await store.getApproval(tx, id, true);
      if (!approval) return { ok: false, code: 'NOT_FOUND', message: `No approval "${id}"` };
      if (!isOpen(approval.status)) return alreadyDecided(approval);
      if (lapsed(approval, now)) {
        // Its time is up and the expiry job is late (Redis away, a busy queue): the rule's on_timeout applies now,
        // as the job would have applied it, whoever is asking; a decision after the deadline never wins.
        const event = await this.#expireLocked(tx, approval, now);
        return { ...expiredFirst(event.approval), event };
      }
      const refusal = this.#refusal(approval, actor);
      if (refusal) return refusal;
      const reason = body.reason ?? null;
      const base = this.#auditBase(approval);
      // With a quorum of one the first decision is the only vote, and the row itself records who, how and why;
      // votes are kept when several approvals are needed (one rejection still decides).
      const voting = approval.spec.quorum > 1;
      if (voting && !(await store.insertVote(tx, id, { approver: actor.id, decision: body.decision, via: actor.via, reason }, now))) {
        return { ok: false, code: 'ALREADY_VOTED', message: `${actor.id} has already voted on this approval`, approval };
      }
      const approvals = voting && body.decision === 'approve' ? await store.countApprovingVotes(tx, id) : 1;
      if (body.decision === 'approve' && approvals < approval.spec.quorum) {
        await this.#audit.appendInTransaction(tx, { ...base, kind: 'approval_vote', actor: actor.id, via: actor.via, reason: reason ?? undefined, detail: { approvals, quorum: approval.spec.quorum } });
        const updated = (await store.getApproval(tx, id))!;
        return { ok: true, approval: updated, final: false, event: await this.#withJobs(tx, { type: 'voted', approval: updated }) };
      }
      const status = body.decision === 'approve' ? 'approved' : 'rejected';
      const decided = await store.closeApproval(tx, id, { status, by: actor.id, via: actor.via, reason, at: now });
      if (!decided) return alreadyDecided((await store.getApproval(tx, id))!);
      await this.#audit.appendInTransaction(tx, { ...base, kind: status, actor: actor.id, via: actor.via, reason: reason ?? undefined, occurredAt: now });
      return { ok: true, approval: decided, final: true, event: await this.#withJobs(tx, { type: 'decided', approval: decided }) };
    });
  }

  /** Why `actor` may not decide `approval`, if they may not. */
  #refusal(approval: Approval, actor: Actor): DecideOutcome | undefined {
    if (actor.grants?.includes(approval.grant) || this.#grantOwners[approval.grant]?.includes(actor.id)) {
      return { ok: false, code: 'SELF_APPROVAL', message: `${actor.id} acts for grant "${approval.grant}", which made this call: nobody approves their own call`, approval };
    }
    if (!this.#mayDecide(approval.spec, actor.id)) {
      return { ok: false, code: 'NOT_AN_APPROVER', message: `${actor.id} is not an approver of this call (approvers: ${approval.spec.approvers.join(', ')})`, approval };
    }
    return undefined;
  }

  #mayDecide(spec: ApprovalSpec, actorId: string): boolean {
    return spec.approvers.some((approver) =>
      approver.startsWith('group:') ? (this.#groups[approver.slice('group:'.length)] ?? []).includes(actorId) : approver === actorId,
    );
  }

  // ---- the gateway's side: request, wait, claim, leave, expire, recover --------------------------------------

  /**
   * Creates the approval for a held call, or joins the open one for the identical call. An abandoned one is
   * reopened: the agent's retry after a restart waits on the request already posted, whose decision then wakes it,
   * rather than opening a second approval that a decision on the first would never wake. With `wait`, the call's
   * wait for the decision is registered as the transaction commits, before anything can decide it.
   */
  async request(call: HeldCall, wait?: AbortSignal): Promise<{ approval: Approval; joined: boolean; decision?: Promise<Approval> }> {
    const now = new Date(this.#clock.now());
    const binding = bindingHash(call);
    const { result, expired } = await this.#db.transaction(async (tx) => {
      const input: store.NewApproval = {
        id: randomUUID(),
        bindingHash: binding,
        server: call.server,
        tool: call.tool,
        grant: call.caller.grant,
        agent: call.caller.agent ?? null,
        sessionId: call.caller.session ?? null,
        // Approvers must see what they approve, so the approval keeps argument values; secrets are still never
        // stored. The audit log, which outlives decisions, hashes values unless approvals.keepArgValues is set.
        argsRedacted: redactArgs(call.args as JsonObject, { keepValues: true }),
        argsHash: hashJson(call.args as JsonObject),
        policyVersion: call.policyVersion,
        rule: call.rule,
        spec: call.spec,
        requestedAt: now,
        expiresAt: new Date(now.getTime() + call.spec.timeoutMs),
        ownerInstance: this.#instanceId,
        toolAnnotations: call.toolAnnotations,
      };
      // An approval whose time is up is not joined, even while its expiry job is late: its on_timeout applies
      // now, and this call asks afresh. The lapsed row stays locked, so the second attempt cannot meet it again.
      const expired: ApprovalEvent[] = [];
      let joined = await store.insertOrJoin(tx, input);
      if (!joined) {
        for (const lapsed of await store.lapsedOpen(tx, binding, now)) expired.push(await this.#expireLocked(tx, lapsed, now));
        joined = await store.insertOrJoin(tx, input);
      }
      if (!joined) {
        throw new AirlockError('INTERNAL', `Could not open or join the approval for ${call.server}/${call.tool}: an identical call's approval is past its expiry but none was found to expire`);
      }
      await this.#audit.appendInTransaction(tx, {
        ...this.#auditBase(joined.approval),
        kind: joined.joined ? 'approval_joined' : 'approval_requested',
        callId: call.callId,
        session: call.caller.session,
        args: call.args as AuditEvent['args'],
        detail: { expiresAt: joined.approval.expiresAt, approvers: joined.approval.spec.approvers, joinedCount: joined.approval.joinedCount },
        occurredAt: now,
      });
      await this.#withJobs(tx, { type: joined.joined ? 'joined' : 'created', approval: joined.approval });
      return { result: joined, expired };
    });
    for (const event of expired) this.#publish(event);
    const decision = wait ? this.#waitForDecision(result.approval, wait) : undefined;
    this.#publish({ type: result.joined ? 'joined' : 'created', approval: result.approval });
    if (!this.#queue && (this.#expiryAt === undefined || Date.parse(result.approval.expiresAt) < this.#expiryAt)) {
      // Only an approval due before the armed timer needs the timer moved.
      this.#armExpiry();
    }
    return { ...result, ...(decision ? { decision } : {}) };
  }

  /** Resolves with the approval once this service publishes its decision; rejects when `signal` aborts. */
  #waitForDecision(approval: Approval, signal: AbortSignal): Promise<Approval> {
    const { id } = approval;
    return new Promise<Approval>((resolve, reject) => {
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      const waiting = this.#waiting.get(id) ?? { approval, wake: new Set() };
      waiting.approval = approval;
      this.#waiting.set(id, waiting);
      const done = (approval: Approval) => {
        cleanup();
        resolve(approval);
      };
      const onAbort = () => {
        cleanup();
        reject(signal.reason);
      };
      const cleanup = () => {
        waiting.wake.delete(done);
        if (waiting.wake.size === 0) this.#waiting.delete(id);
        signal.removeEventListener('abort', onAbort);
      };
      waiting.wake.add(done);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** The retry of an approved call: claims the approval so that it runs exactly once. */
  async claimRetry(call: Pick<HeldCall, 'server' | 'tool' | 'args' | 'caller' | 'policyVersion'>): Promise<Approval | undefined> {
    return store.claimApproved(this.#db, bindingHash(call), new Date(this.#clock.now()));
  }

  /**
   * A call that waited on this approval claims it; only one call runs per approval. The first local waiter takes
   * the claim the decision already made for it.
   */
  async claim(id: string): Promise<Approval | undefined> {
    const claimed = this.#claimed.get(id);
    if (claimed) {
      this.#claimed.delete(id);
      return claimed;
    }
    return store.claimById(this.#db, id, new Date(this.#clock.now()));
  }

  /**
   * The client of a waiting call cancelled or went away. Calls joined to the same approval keep it alive; the last
   * one to leave cancels it.
   */
  async leave(id: string, reason: string): Promise<void> {
    const now = new Date(this.#clock.now());
    const event = await this.#db.transaction(async (tx): Promise<ApprovalEvent | undefined> => {
      if ((await store.leave(tx, id)) !== 'last') return undefined;
      // Past its time (the expiry job is late), the rule's on_timeout has already decided it: that, not a cancel.
      const approval = await store.getApproval(tx, id, true);
      if (approval && isOpen(approval.status) && lapsed(approval, now)) return this.#expireLocked(tx, approval, now);
      const closed = await store.closeApproval(tx, id, { status: 'cancelled', by: 'system', via: 'system', reason, at: now });
      if (!closed) return undefined;
      await this.#audit.appendInTransaction(tx, { ...this.#auditBase(closed), kind: 'cancelled', actor: 'system', via: 'system', reason, occurredAt: now });
      return this.#withJobs(tx, { type: 'decided', approval: closed });
    });
    if (event) this.#publish(event);
  }

  recordExecution(id: string, outcome: { ok: boolean; upstreamStatus: string; durationMs: number }): Promise<void> {
    const recording = this.#recordExecution(id, outcome);
    const settled = recording.catch(() => undefined).finally(() => this.#recording.delete(settled));
    this.#recording.add(settled);
    return recording;
  }

  async #recordExecution(id: string, outcome: { ok: boolean; upstreamStatus: string; durationMs: number }): Promise<void> {
    const now = new Date(this.#clock.now());
    const approval = await this.#db.transaction(async (tx) => {
      const updated = await store.recordExecution(tx, id, { status: outcome.ok ? 'succeeded' : 'failed', upstreamStatus: outcome.upstreamStatus, durationMs: outcome.durationMs, at: now });
      if (updated) {
        await this.#audit.appendInTransaction(tx, {
          ...this.#auditBase(updated),
          kind: 'executed',
          upstreamStatus: outcome.upstreamStatus,
          durationMs: outcome.durationMs,
          occurredAt: now,
        });
        await this.#withJobs(tx, { type: 'executed', approval: updated });
      }
      return updated;
    });
    if (approval) this.#publish({ type: 'executed', approval });
  }

  /** Applies each due approval's on_timeout. Driven by the expiry timer, or directly with an injected clock. */
  async expireDue(now = new Date(this.#clock.now())): Promise<Approval[]> {
    const expired: Approval[] = [];
    for (const id of await store.dueForExpiry(this.#db, now)) {
      const closed = await this.#expire(id, now);
      if (closed) expired.push(closed);
    }
    return expired;
  }

  /** Applies one approval's on_timeout, unless something decided it first. */
  async #expire(id: string, now: Date): Promise<Approval | undefined> {
    const event = await this.#db.transaction(async (tx) => {
      const approval = await store.getApproval(tx, id, true);
      return approval && isOpen(approval.status) ? this.#expireLocked(tx, approval, now) : undefined;
    });
    if (event) this.#publish(event);
    return event?.approval;
  }

  /**
   * Inside a transaction holding the row of an open approval whose time is up: applies its on_timeout, with the
   * audit row and the jobs, and answers the event to publish after the commit. The expiry job does this when due;
   * a decision or an identical call that arrives first, while the job is late, does it too.
   */
  async #expireLocked(tx: Db, approval: Approval, now: Date): Promise<ApprovalEvent> {
    const wait = formatDuration(approval.spec.timeoutMs);
    const approve = approval.spec.onTimeout === 'approve';
    const reason = approve ? `no decision within ${wait}; the rule approves on timeout` : `no decision within ${wait}`;
    // The caller holds the row and saw it open, so nothing can have closed it first.
    const decided = (await store.closeApproval(tx, approval.id, { status: approve ? 'approved' : 'expired', by: 'system', via: 'system', reason, at: now }))!;
    await this.#audit.appendInTransaction(tx, { ...this.#auditBase(decided), kind: approve ? 'approved' : 'expired', actor: 'system', via: 'timer', reason, occurredAt: now });
    return this.#withJobs(tx, { type: 'decided', approval: decided });
  }

  /**
   * After a restart no call waits on the approvals that were pending: they become `abandoned` (still decidable, so
   * a decision made later applies to the agent's retry, which reopens them) and expire as before. Nothing stays
   * pending with nobody waiting. `owner` limits this to the approvals one instance held (several instances share
   * the database: the others' calls are still waiting); without it every pending approval is this process's.
   */
  async recover(options: { owner?: string } = {}): Promise<number> {
    const count = await this.#abandonPending(options.owner, 'the gateway restarted while the call was held');
    if (!this.#queue) this.#armExpiry();
    return count;
  }

  /**
   * On a graceful stop, once the held calls have been answered (the gateway's close): the approvals this
   * instance opened become `abandoned` now rather than at its next start, which an instance without a name that
   * outlives a restart (AIRLOCK_INSTANCE_ID, scaled) never reaches. Approvals other instances opened are theirs.
   */
  abandonHeld(): Promise<number> {
    return this.#abandonPending(this.#instanceId, 'the gateway stopped while the call was held');
  }

  async #abandonPending(owner: string | undefined, why: string): Promise<number> {
    const now = new Date(this.#clock.now());
    const reason = `${why}; a decision still applies to the identical retry`;
    let count = 0;
    for (const id of await store.pendingIds(this.#db, owner)) {
      const abandoned = await this.#db.transaction(async (tx) => {
        const closed = await store.closeApproval(tx, id, { status: 'abandoned', by: 'system', via: 'system', reason, at: now });
        if (!closed) return undefined;
        await this.#audit.appendInTransaction(tx, { ...this.#auditBase(closed), kind: 'abandoned', actor: 'system', via: 'system', reason, occurredAt: now });
        return this.#withJobs(tx, { type: 'abandoned', approval: closed });
      });
      if (!abandoned) continue;
      count += 1;
      // Review pages and Slack messages, here and on other instances, show it as it is now.
      this.#publish(abandoned);
    }
    return count;
  }

  /** Keeps one timer on the next expiry; the database decides what is due, so a restart loses nothing. */
  #armExpiry(): void {
    if (this.#closed) return;
    void store.nextExpiry(this.#db).then(
      (next) => {
        clearTimeout(this.#expiryTimer);
        this.#expiryAt = undefined;
        if (!next || this.#closed) return;
        const delay = Math.max(0, Math.min(next.getTime() - this.#clock.now(), MAX_TIMER_MS));
        this.#expiryAt = this.#clock.now() + delay;
        this.#expiryTimer = setTimeout(() => {
          this.#expiryAt = undefined;
          void this.expireDue().then(
            () => this.#armExpiry(),
            (error: Error) => this.#logger.error({ err: error.message }, 'approval expiry failed'),
          );
        }, delay);
        this.#expiryTimer.unref();
      },
      (error: Error) => this.#logger.warn({ err: error.message }, 'could not schedule approval expiry'),
    );
  }

  /**
   * Stops the background work; the executions being recorded and the relay's pass under way end first, so close
   * this before the queue and the database.
   */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#expiryTimer);
    clearInterval(this.#recheckTimer);
    clearInterval(this.#rearmTimer);
    for (const off of this.#busOff.splice(0)) off();
    // Settled, not fulfilled: a recording that failed was already reported to whoever started it.
    await Promise.all(this.#recording);
    await this.#relay?.close();
  }

  #auditBase(approval: Approval): AuditEvent {
    return {
      kind: 'approval_requested',
      approvalId: approval.id,
      server: approval.server,
      tool: approval.tool,
      grant: approval.grant,
      ...(approval.agent ? { agent: approval.agent } : {}),
      policyVersion: approval.policyVersion,
      rule: approval.rule,
    };
  }

  /**
   * Inside a change's transaction: writes the jobs that follow it (a new approval's expiry, the listeners' own) to
   * the outbox, and answers the event.
   */
  async #withJobs(tx: Db, event: ApprovalEvent): Promise<ApprovalEvent> {
    if (!this.#relay) return event;
    const jobs = [...this.#changeJobs].flatMap((source) => source.jobsFor(event));
    if (event.type === 'created') jobs.push(expiryJob(event.approval.id, new Date(event.approval.expiresAt)));
    for (const job of jobs) await writeOutbox(tx, job);
    if (jobs.length > 0) this.#wroteJobs.add(event.approval);
    return event;
  }

  /** After commit: tell this instance, then the others, then hand the change's jobs to the queue. */
  /** Returns whether the event woke calls waiting here. */
  #publish(event: ApprovalEvent): boolean {
    if (event.type === 'decided' && this.#queue) {
      // Best effort: a job that survives finds the approval decided and does nothing.
      void this.#queue.remove(expireKey(event.approval.id)).catch(() => undefined);
    }
    const woke = this.#notify(event);
    if (this.#bus) {
      const message: ChangeMessage = { origin: this.#instanceId, approvalId: event.approval.id, type: event.type };
      void this.#bus.publish(APPROVALS_CHANNEL, message);
    }
    if (this.#wroteJobs.delete(event.approval)) this.#relay!.wake();
    return woke;
  }

  /** Wakes the calls waiting on a decided approval, then tells the listeners; returns whether it woke any. */
  #notify(event: ApprovalEvent): boolean {
    if (event.type === 'decided') {
      const { id } = event.approval;
      const waiters = [...(this.#waiting.get(id)?.wake ?? [])];
      for (const wake of waiters) wake(event.approval);
      if (waiters.length === 0 && this.#claimed.delete(id)) {
        // The call it was claimed for left between the decision and now: the agent's retry may still run it.
        store.releaseClaim(this.#db, id).catch((error: Error) => this.#logger.error({ approval: id, err: error.message }, 'could not release an unused claim'));
      }
      if (waiters.length > 0) {
        // The woken calls reach their upstreams within this turn's microtasks. Listeners (review pages, Slack)
        // write to sockets, and peers woken by those writes took the cores the upstream needed next.
        setImmediate(() => this.#tell(event));
        return true;
      }
    }
    this.#tell(event);
    return false;
  }

  #tell(event: ApprovalEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        this.#logger.error({ err: (error as Error).message, event: event.type }, 'approval listener failed');
      }
    }
  }
}

/** A decision's outcome and, when it changed something, the event to publish after the commit. */
type DecisionOutcome = DecideOutcome & { event?: ApprovalEvent };

/** Whether an approval's time is up at `now`, whether or not its expiry job has run. */
function lapsed(approval: Approval, now: Date): boolean {
  return Date.parse(approval.expiresAt) <= now.getTime();
}

/** The answer to a decision that came at or after the approval's deadline, which has just applied its on_timeout. */
function expiredFirst(approval: Approval): DecideOutcome {
  return {
    ok: false,
    code: 'ALREADY_DECIDED',
    message: `Already ${approval.status} by system: the approval expired at ${approval.expiresAt} (${approval.reason ?? 'no decision in time'})`,
    approval,
  };
}

function alreadyDecided(approval: Approval): DecideOutcome {
  return {
    ok: false,
    code: 'ALREADY_DECIDED',
    message: `Already ${approval.status} by ${approval.decidedBy ?? 'system'} at ${approval.decidedAt ?? 'an earlier time'}`,
    approval,
  };
}
