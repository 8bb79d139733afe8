/**
 * An approval whose time is up while its expiry job is late (Redis away in scaled mode, a busy in-process queue):
 * a human decision or an identical call arriving at or after expires_at must not win. The rule's on_timeout applies
 * then and there, as the expiry job would have applied it, and the decider hears that it expired. The service's
 * clock moves while its queue's time stands still, so the expiry jobs never come due (a queue that is behind).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { AuditLog } from '../audit/audit-log.js';
import { verifyAuditLog } from '../audit/verify.js';
import { ManualScheduler } from '../jobs/scheduler.js';
import { SpyQueue } from '../jobs/testing/spy-queue.js';
import { createLogger } from '../log/logger.js';
import { ManualClock } from '../util/clock.js';
import { createTestDatabase, TEST_DIALECTS, type TestDatabase } from '../../../test/contract/test-databases.js';
import type { ApprovalEvent } from './approval.js';
import { ApprovalService, type HeldCall } from './approval-service.js';
import { heldCall } from './testing/held-call.js';

const TIMEOUT = 60_000;
const call = (text: string, spec: Partial<HeldCall['spec']> = {}) => heldCall(text, { timeoutMs: TIMEOUT, ...spec });
const alice = { id: 'web:alice', via: 'web' as const };

describe.each(TEST_DIALECTS)('an approval whose time is up before its expiry job ran, on %s', (dialect) => {
  let database: TestDatabase;
  let clock: ManualClock;
  let queue: SpyQueue;
  let service: ApprovalService;
  let events: string[];
  beforeEach(async () => {
    database = await createTestDatabase(dialect);
    clock = new ManualClock();
    const late = new ManualScheduler();
    queue = new SpyQueue(late);
    service = new ApprovalService({ db: database.db, audit: new AuditLog(database.db), clock, scheduler: late, queue, logger: createLogger('silent') });
    await service.start();
    events = [];
    service.subscribe((event: ApprovalEvent) => void events.push(`${event.type}:${event.approval.status}`));
  });
  afterEach(async () => {
    await service.close();
    await queue.close();
    await database.destroy();
  });

  const auditKinds = async (id: string) =>
    (await database.db.query<{ kind: string }>(`SELECT kind FROM audit_events WHERE approval_id = $1 ORDER BY seq`, [id])).map((row) => row.kind);

  describe('when the last call waiting on it leaves at or after expires_at', () => {
    // What the approval stage does when the agent cancels or disconnects.
    const leaveAfter = async (text: string, elapsedMs: number) => {
      const { approval } = await service.request(call(text));
      clock.advance(elapsedMs);
      await service.leave(approval.id, 'the agent cancelled the call');
      return { approval: await service.get(approval.id), kinds: await auditKinds(approval.id) };
    };

    it('applies on_timeout instead of cancelling: the rule decided it when its time was up', async () => {
      const { approval, kinds } = await leaveAfter('left late', TIMEOUT);
      expect(approval).toMatchObject({ status: 'expired', decidedBy: 'system' });
      expect(kinds).toEqual(['approval_requested', 'expired']);
      expect(events).toEqual(['created:pending', 'decided:expired']);
    });

    it('still cancels before expires_at', async () => {
      const { approval, kinds } = await leaveAfter('left early', TIMEOUT - 1);
      expect(approval).toMatchObject({ status: 'cancelled', reason: 'the agent cancelled the call' });
      expect(kinds).toEqual(['approval_requested', 'cancelled']);
    });
  });

  describe('when a human decides at or after expires_at', () => {
    it('expires a held call’s approval instead of approving it, tells the decider, and the retry does not run', async () => {
      const waiting = new AbortController();
      const { approval, decision } = await service.request(call('late approve'), waiting.signal);
      clock.advance(TIMEOUT);
      const outcome = await service.decide(approval.id, { decision: 'approve' }, alice);
      expect(outcome).toMatchObject({
        ok: false,
        code: 'ALREADY_DECIDED',
        message: `Already expired by system: the approval expired at ${approval.expiresAt} (no decision within 1m)`,
        approval: { status: 'expired', decidedBy: 'system', decidedVia: 'system' },
      });
      expect(await decision).toMatchObject({ status: 'expired' });
      expect(await service.claim(approval.id)).toBeUndefined();
      expect(await service.claimRetry(call('late approve'))).toBeUndefined();
      expect(await auditKinds(approval.id)).toEqual(['approval_requested', 'expired']);
      expect(events).toEqual(['created:pending', 'decided:expired']);
      expect(await verifyAuditLog(database.db)).toMatchObject({ ok: true });
    });

    it('expires an approval no call waits on here, whatever the decision or the quorum', async () => {
      const rejected = (await service.request(call('late reject'))).approval;
      const voted = (await service.request(call('late vote', { quorum: 2, approvers: ['web:alice', 'web:bob'] }))).approval;
      clock.advance(10 * TIMEOUT);
      expect(await service.decide(rejected.id, { decision: 'reject' }, alice)).toMatchObject({ ok: false, code: 'ALREADY_DECIDED', approval: { status: 'expired' } });
      expect(await service.decide(voted.id, { decision: 'approve' }, alice)).toMatchObject({ ok: false, code: 'ALREADY_DECIDED', approval: { status: 'expired', votes: [] } });
      expect(await auditKinds(voted.id)).toEqual(['approval_requested', 'expired']);
    });

    it('applies on_timeout approve as the expiry job would, and the approval runs once', async () => {
      const { approval } = await service.request(call('approves on timeout', { onTimeout: 'approve' }));
      clock.advance(TIMEOUT + 1);
      expect(await service.decide(approval.id, { decision: 'reject', reason: 'too late' }, alice)).toMatchObject({
        ok: false,
        code: 'ALREADY_DECIDED',
        message: `Already approved by system: the approval expired at ${approval.expiresAt} (no decision within 1m; the rule approves on timeout)`,
        approval: { status: 'approved', decidedBy: 'system' },
      });
      expect(await service.claimRetry(call('approves on timeout'))).toMatchObject({ id: approval.id });
      expect(await service.claimRetry(call('approves on timeout'))).toBeUndefined();
      expect(await auditKinds(approval.id)).toEqual(['approval_requested', 'approved']);
    });

    it('still lets a decision a moment before expires_at win', async () => {
      const waiting = new AbortController();
      const { approval, decision } = await service.request(call('just in time'), waiting.signal);
      clock.advance(TIMEOUT - 1);
      expect(await service.decide(approval.id, { decision: 'approve' }, alice)).toMatchObject({ ok: true, approval: { status: 'approved' } });
      expect(await decision).toMatchObject({ status: 'approved' });
    });
  });

  describe('when an identical call arrives after expires_at', () => {
    it('does not join the lapsed approval: it expires, and the call gets a fresh one with its own time', async () => {
      const waiting = new AbortController();
      const first = await service.request(call('asked again'), waiting.signal);
      clock.advance(TIMEOUT);
      const again = await service.request(call('asked again'));
      expect(again.joined).toBe(false);
      expect(again.approval).toMatchObject({ status: 'pending', joinedCount: 1, expiresAt: new Date(clock.now() + TIMEOUT).toISOString() });
      expect(again.approval.id).not.toBe(first.approval.id);
      expect(await first.decision).toMatchObject({ id: first.approval.id, status: 'expired' });
      expect(await auditKinds(first.approval.id)).toEqual(['approval_requested', 'expired']);
      // Listeners hear of a decision that woke calls a turn later (the calls go first).
      await expect.poll(() => [...events].sort()).toEqual(['created:pending', 'created:pending', 'decided:expired']);
      expect(await service.decide(again.approval.id, { decision: 'approve' }, alice)).toMatchObject({ ok: true });
      expect(await service.claimRetry(call('asked again'))).toMatchObject({ id: again.approval.id });
    });
  });
});
