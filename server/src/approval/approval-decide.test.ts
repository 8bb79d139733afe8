/**
 * Deciding an approval a call waits on here: the decision, the claim for the waiting call and the audit row go to
 * the database as one statement, and every way that path can be wrong falls back to the checked one with the same
 * outcome (a quorum, a refusal, an audit chain another writer moved, a waiting call that left meanwhile).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { AuditLog } from '../audit/audit-log.js';
import { verifyAuditLog } from '../audit/verify.js';
import type { Db } from '../db/db.js';
import { createLogger } from '../log/logger.js';
import { systemClock } from '../util/clock.js';
import { createTestDatabase, TEST_DIALECTS, type TestDatabase } from '../../../test/contract/test-databases.js';
import { ApprovalService, type HeldCall } from './approval-service.js';
import { heldCall } from './testing/held-call.js';

const call = (text: string, spec: Partial<HeldCall['spec']> = {}) => heldCall(text, { approvers: ['web:alice', 'web:bob'], ...spec });
const alice = { id: 'web:alice', via: 'web' as const };

/** Counts the statements sent, inside transactions too. */
function counting(db: Db, statements: string[]): Db {
  const wrap = (inner: Db): Db => ({
    dialect: inner.dialect,
    query: (sql, params) => {
      statements.push(sql.trim().split(/\s+/, 1)[0]!);
      return inner.query(sql, params);
    },
    exec: (sql) => inner.exec(sql),
    transaction: (fn) => inner.transaction((tx) => fn(wrap(tx))),
    close: () => inner.close(),
  });
  return wrap(db);
}

describe.each(TEST_DIALECTS)('deciding a call held here, on %s', (dialect) => {
  let database: TestDatabase;
  let statements: string[];
  let service: ApprovalService;
  beforeEach(async () => {
    database = await createTestDatabase(dialect);
    statements = [];
    const db = counting(database.db, statements);
    service = new ApprovalService({ db, audit: new AuditLog(db), clock: systemClock, logger: createLogger('silent'), grantOwners: { 'ci-bot': ['web:bob'] } });
    // The audit log learns the chain's tip from its first append.
    await service.request(call('warm-up'));
  });
  afterEach(async () => {
    service.close();
    await database.destroy();
  });

  const hold = async (text: string, spec?: Partial<HeldCall['spec']>) => {
    const waiting = new AbortController();
    const held = await service.request(call(text, spec), waiting.signal);
    return { ...held, waiting };
  };

  it('writes the decision, the claim and the audit row in one statement; the waiting call runs without another', async () => {
    const { approval, decision } = await hold('one statement');
    statements.length = 0;
    expect(await service.decide(approval.id, { decision: 'approve', reason: 'looks right' }, alice)).toMatchObject({
      ok: true,
      final: true,
      approval: { status: 'approved', decidedBy: 'web:alice', reason: 'looks right', execution: { status: 'running' } },
    });
    expect(await service.claim((await decision!).id)).toMatchObject({ id: approval.id });
    expect(statements).toEqual(['WITH']);

    const stored = await service.get(approval.id);
    expect(stored).toMatchObject({ status: 'approved', decidedBy: 'web:alice', decidedVia: 'web', reason: 'looks right', execution: { status: 'running' } });
    expect(await service.claim(approval.id)).toBeUndefined();
    expect(await service.claimRetry(call('one statement'))).toBeUndefined();
    const [audit] = await database.db.query<{ canonical: string }>(`SELECT canonical FROM audit_events WHERE approval_id = $1 AND kind = 'approved'`, [approval.id]);
    expect(JSON.parse(audit!.canonical)).toMatchObject({ actor: 'web:alice', via: 'web', reason: 'looks right', tool: 'create_charge' });
    expect(await verifyAuditLog(database.db)).toMatchObject({ ok: true });
  });

  it('rejects in one statement and claims nothing', async () => {
    const { approval, decision } = await hold('rejected');
    statements.length = 0;
    expect(await service.decide(approval.id, { decision: 'reject', reason: 'wrong account' }, alice)).toMatchObject({ ok: true, approval: { status: 'rejected', execution: null } });
    expect(statements).toEqual(['WITH']);
    expect(await decision).toMatchObject({ status: 'rejected', reason: 'wrong account' });
    expect((await service.get(approval.id))?.execution).toBeNull();
  });

  it('refuses a non-approver and the agent’s owner as the checked path does, changing nothing', async () => {
    const { approval, decision } = await hold('refused');
    expect(await service.decide(approval.id, { decision: 'approve' }, { id: 'web:mallory', via: 'web' })).toMatchObject({ ok: false, code: 'NOT_AN_APPROVER' });
    expect(await service.decide(approval.id, { decision: 'approve' }, { id: 'web:bob', via: 'web' })).toMatchObject({ ok: false, code: 'SELF_APPROVAL' });
    expect((await service.get(approval.id))?.status).toBe('pending');
    expect(await service.decide(approval.id, { decision: 'approve' }, alice)).toMatchObject({ ok: true });
    expect(await decision).toMatchObject({ status: 'approved' });
  });

  it('answers a second decision "already decided", whoever decided first', async () => {
    const { approval } = await hold('twice');
    await service.decide(approval.id, { decision: 'reject' }, alice);
    expect(await service.decide(approval.id, { decision: 'approve' }, alice)).toMatchObject({ ok: false, code: 'ALREADY_DECIDED', message: expect.stringMatching(/^Already rejected by web:alice at /) });
  });

  it('counts votes on the checked path when the rule wants a quorum', async () => {
    const { approval, decision } = await hold('quorum', { quorum: 2, approvers: ['web:alice', 'web:carol', 'web:dave'] });
    expect(await service.decide(approval.id, { decision: 'approve' }, alice)).toMatchObject({ ok: true, final: false });
    expect(await service.decide(approval.id, { decision: 'approve' }, { id: 'web:carol', via: 'web' })).toMatchObject({ ok: true, final: true });
    expect(await decision).toMatchObject({ status: 'approved', votes: [{ approver: 'web:alice' }, { approver: 'web:carol' }] });
    expect(await service.claim(approval.id)).toMatchObject({ id: approval.id });
  });

  it('starts over on the checked path when another writer moved the audit chain, and the chain stays whole', async () => {
    const { approval, decision } = await hold('chain moved');
    await new AuditLog(database.db).appendInTransaction(database.db, { kind: 'policy_loaded', detail: { by: 'another instance' } });
    expect(await service.decide(approval.id, { decision: 'approve' }, alice)).toMatchObject({ ok: true, approval: { status: 'approved' } });
    expect(await service.claim((await decision!).id)).toMatchObject({ id: approval.id });
    expect(await service.claim(approval.id)).toBeUndefined();
    expect(await verifyAuditLog(database.db)).toMatchObject({ ok: true });
    const kinds = await database.db.query<{ kind: string }>(`SELECT kind FROM audit_events WHERE approval_id = $1 ORDER BY seq`, [approval.id]);
    expect(kinds.map((row) => row.kind)).toEqual(['approval_requested', 'approved']);
  });

  it('resumes the waiting call before it tells listeners (review pages, Slack) or the decider, and tells them all the same', async () => {
    const { approval, decision } = await hold('call first');
    const order: string[] = [];
    // The released call's way upstream (pipeline, SDK, transport) is many promise steps, all within one turn.
    void decision!.then(async () => {
      for (let step = 0; step < 100; step += 1) await Promise.resolve();
      order.push('call sent upstream');
    });
    const told = new Promise<void>((resolve) => {
      service.subscribe((event) => {
        if (event.type !== 'decided' || event.approval.id !== approval.id) return;
        order.push(`listener told: ${event.approval.status}`);
        resolve();
      });
    });
    expect(await service.decide(approval.id, { decision: 'approve' }, alice)).toMatchObject({ ok: true });
    order.push('decider answered');
    await told;
    expect(order[0]).toBe('call sent upstream');
    expect(order.slice(1).sort()).toEqual(['decider answered', 'listener told: approved']);
  });

  it('gives the claim back when the waiting call left while the decision was being written: the retry runs once', async () => {
    const { approval, decision, waiting } = await hold('left meanwhile');
    const deciding = service.decide(approval.id, { decision: 'approve' }, alice);
    waiting.abort('client went away');
    await expect(decision).rejects.toBe('client went away');
    expect(await deciding).toMatchObject({ ok: true, approval: { status: 'approved' } });
    await expect.poll(async () => (await service.get(approval.id))?.execution).toBeNull();
    expect(await service.claimRetry(call('left meanwhile'))).toMatchObject({ id: approval.id });
    expect(await service.claimRetry(call('left meanwhile'))).toBeUndefined();
  });
});
