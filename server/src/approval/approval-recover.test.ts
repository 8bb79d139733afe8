/**
 * Restart recovery with several instances on one database: a restarted instance abandons only the approvals it
 * held; alone on a database, every pending approval was its own. A stopping instance abandons its own at once. The
 * agent's retry of an abandoned call reopens that approval (one request, one decision), unless its time is up.
 */
import { afterEach, describe, expect, it } from 'vitest';

import { AuditLog } from '../audit/audit-log.js';
import type { JobQueue } from '../jobs/job-queue.js';
import { SpyQueue } from '../jobs/testing/spy-queue.js';
import { createLogger } from '../log/logger.js';
import { type Clock, ManualClock, systemClock } from '../util/clock.js';
import { createTestDatabase, TEST_DIALECTS, type TestDatabase } from '../../../test/contract/test-databases.js';
import { ApprovalService } from './approval-service.js';
import * as store from './approval-store.js';
import { heldCall } from './testing/held-call.js';

const call = (text: string) => heldCall(text);

describe.each(TEST_DIALECTS)('who may decide on %s', (dialect) => {
  let database: TestDatabase;
  afterEach(async () => {
    await database?.destroy();
  });

  it('refuses the people who run the calling agent, through any channel, and nothing changes', async () => {
    database = await createTestDatabase(dialect);
    const service = new ApprovalService({
      db: database.db,
      audit: new AuditLog(database.db),
      clock: systemClock,
      logger: createLogger('silent'),
      groups: { oncall: ['web:alice', 'slack:UALICE', 'web:bob'] },
      grantOwners: { 'ci-bot': ['web:alice', 'slack:UALICE'] },
    });
    const { approval } = await service.request({ ...call('my own agent'), spec: { ...call('x').spec, approvers: ['group:oncall'] } });
    for (const actor of [{ id: 'web:alice', via: 'web' as const }, { id: 'slack:UALICE', via: 'slack' as const }]) {
      expect(await service.decide(approval.id, { decision: 'approve' }, actor)).toMatchObject({ ok: false, code: 'SELF_APPROVAL' });
    }
    expect((await service.get(approval.id))?.status).toBe('pending');
    expect(await service.decide(approval.id, { decision: 'approve' }, { id: 'web:bob', via: 'web' })).toMatchObject({ ok: true, final: true });
    await service.close();
  });
});

describe.each(TEST_DIALECTS)('recover on %s', (dialect) => {
  let database: TestDatabase;
  afterEach(async () => {
    await database?.destroy();
  });

  const service = (instanceId: string, late?: { clock: Clock; queue: JobQueue }) =>
    new ApprovalService({ db: database.db, audit: new AuditLog(database.db), clock: systemClock, logger: createLogger('silent'), instanceId, ...late });
  const ownerOf = async (id: string) => (await database.db.query<{ owner_instance: string }>(`SELECT owner_instance FROM approvals WHERE id = $1`, [id]))[0]?.owner_instance;
  const auditKinds = async (id: string) =>
    (await database.db.query<{ kind: string }>(`SELECT kind FROM audit_events WHERE approval_id = $1 ORDER BY seq`, [id])).map((row) => row.kind);

  it('abandons only the approvals the restarted instance held when given its owner name', async () => {
    database = await createTestDatabase(dialect);
    const mine = (await service('airlock-a').request(call('held by a'))).approval;
    const theirs = (await service('airlock-b').request(call('held by b'))).approval;
    const restarted = service('airlock-a');
    expect(await restarted.recover({ owner: 'airlock-a' })).toBe(1);
    expect((await restarted.get(mine.id))?.status).toBe('abandoned');
    expect((await restarted.get(theirs.id))?.status).toBe('pending');
    expect(await service('solo').recover()).toBe(1);
    expect((await restarted.get(theirs.id))?.status).toBe('abandoned');
  });

  it('abandons, on a graceful stop, the approvals this instance opened and no other, each with its reason and audit row', async () => {
    database = await createTestDatabase(dialect);
    const stopping = service(`unnamed-${process.pid}`);
    const told: string[] = [];
    stopping.subscribe((event) => void told.push(`${event.type}:${event.approval.status}`));
    const mine = (await stopping.request(call('held by the stopping instance'))).approval;
    const other = service('airlock-b');
    const theirs = (await other.request(call('held by another'))).approval;
    expect(await stopping.abandonHeld()).toBe(1);
    expect(told).toEqual(['created:pending', 'abandoned:abandoned']);
    const abandoned = await other.get(mine.id);
    expect(abandoned).toMatchObject({ status: 'abandoned', decidedBy: 'system', reason: 'the gateway stopped while the call was held; a decision still applies to the identical retry' });
    expect((await other.get(theirs.id))?.status).toBe('pending');
    // Both still wait for a decision: the queue (status open) lists them oldest first, pending alone does not.
    expect((await other.list({ status: 'open' })).map((approval) => approval.id)).toEqual([mine.id, theirs.id]);
    expect((await other.list({ status: 'pending' })).map((approval) => approval.id)).toEqual([theirs.id]);
    expect(await stopping.abandonHeld()).toBe(0);
    const rows = await database.db.query<{ kind: string; approval_id: string }>(`SELECT kind, approval_id FROM audit_events WHERE kind = 'abandoned'`);
    expect(rows).toEqual([{ kind: 'abandoned', approval_id: mine.id }]);

    // What another instance's re-read of its held calls wakes them for: not an abandoned approval, which a call
    // joined to it there still waits on, but its decision.
    expect(await store.listDecided(database.db, [mine.id, theirs.id])).toEqual([]);
    await other.decide(mine.id, { decision: 'approve' }, { id: 'web:alice', via: 'web' });
    expect((await store.listDecided(database.db, [mine.id, theirs.id])).map((approval) => [approval.id, approval.status])).toEqual([[mine.id, 'approved']]);
  });

  describe('when the agent retries a call whose approval was abandoned', () => {
    it('reopens that approval for the retry, held by the instance it reached, and its decision wakes the retry, which runs once', async () => {
      database = await createTestDatabase(dialect);
      const abandoned = (await service('airlock-a').request(call('refund #42'))).approval;
      const restarted = service('airlock-a');
      expect(await restarted.recover()).toBe(1);
      const told: string[] = [];
      restarted.subscribe((event) => void told.push(`${event.type}:${event.approval.status}`));

      const waiting = new AbortController();
      const retry = await restarted.request(call('refund #42'), waiting.signal);
      expect(retry).toMatchObject({ joined: true, approval: { id: abandoned.id, status: 'pending', joinedCount: 2, decidedAt: null, decidedBy: null, reason: null } });
      expect(told).toEqual(['joined:pending']);
      expect(await auditKinds(abandoned.id)).toEqual(['approval_requested', 'abandoned', 'approval_joined']);
      expect((await restarted.list({ status: 'open' })).map((approval) => approval.id)).toEqual([abandoned.id]);

      expect(await restarted.decide(abandoned.id, { decision: 'approve' }, { id: 'web:alice', via: 'web' })).toMatchObject({ ok: true, final: true });
      expect(await retry.decision).toMatchObject({ id: abandoned.id, status: 'approved' });
      expect(await restarted.claim(abandoned.id)).toMatchObject({ id: abandoned.id });
      expect(await restarted.claim(abandoned.id)).toBeUndefined();
      expect(await restarted.claimRetry(call('refund #42'))).toBeUndefined();
    });

    it('makes the reopened approval the new holder’s: its graceful stop abandons it again', async () => {
      database = await createTestDatabase(dialect);
      const first = service('airlock-a');
      const { approval } = await first.request(call('held twice'));
      expect(await first.abandonHeld()).toBe(1);
      const other = service('airlock-b');
      await other.request(call('held twice'));
      expect(await ownerOf(approval.id)).toBe('airlock-b');
      expect(await first.abandonHeld()).toBe(0);
      expect(await other.abandonHeld()).toBe(1);
      expect((await other.get(approval.id))?.status).toBe('abandoned');
    });

    it('does not reopen it once its time is up: it expires, and the retry asks afresh', async () => {
      database = await createTestDatabase(dialect);
      // The service's clock moves; its queue's time does not, so the expiry job is late.
      const late = { clock: new ManualClock(), queue: new SpyQueue() };
      const abandoned = (await service('airlock-a', late).request(call('too late'))).approval;
      const restarted = service('airlock-a', late);
      await restarted.recover();
      const clock = late.clock;
      clock.advance(60_000);
      const retry = await restarted.request(call('too late'));
      expect(retry).toMatchObject({ joined: false, approval: { status: 'pending' } });
      expect(retry.approval.id).not.toBe(abandoned.id);
      expect(await restarted.get(abandoned.id)).toMatchObject({ status: 'expired', decidedBy: 'system' });
      expect(await auditKinds(abandoned.id)).toEqual(['approval_requested', 'abandoned', 'expired']);
      await restarted.close();
      await late.queue.close();
    });

    it('reopens it once when retries reach two instances at the same moment', async () => {
      database = await createTestDatabase(dialect);
      const abandoned = (await service('airlock-a').request(call('raced'))).approval;
      await service('airlock-a').recover();
      const [a, b] = await Promise.all([service('airlock-b').request(call('raced')), service('airlock-c').request(call('raced'))]);
      expect([a.approval.id, b.approval.id]).toEqual([abandoned.id, abandoned.id]);
      expect(await service('airlock-b').get(abandoned.id)).toMatchObject({ status: 'pending', joinedCount: 3 });
      expect(await auditKinds(abandoned.id)).toEqual(['approval_requested', 'abandoned', 'approval_joined', 'approval_joined']);
    });
  });
});
