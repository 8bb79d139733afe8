/**
 * Restart recovery with several instances on one database: a restarted instance abandons only the approvals it
 * held; alone on a database, every pending approval was its own. A stopping instance abandons its own at once.
 */
import { afterEach, describe, expect, it } from 'vitest';

import { AuditLog } from '../audit/audit-log.js';
import { createLogger } from '../log/logger.js';
import { systemClock } from '../util/clock.js';
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

  const service = (instanceId: string) =>
    new ApprovalService({ db: database.db, audit: new AuditLog(database.db), clock: systemClock, logger: createLogger('silent'), instanceId });

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
});
