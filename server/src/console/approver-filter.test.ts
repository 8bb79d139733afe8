/** The history's approver filter (migration 0002's expression index) finds who decided, on both databases. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createTestDatabase, TEST_DIALECTS, type TestDatabase } from '../../../test/contract/test-databases.js';
import { appendAuditEvents, auditQuerySql, queryAuditEvents } from '../audit/audit-store.js';

describe.each(TEST_DIALECTS)('the approver filter on %s', (dialect) => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase(dialect);
    const at = '2026-11-24T09:00:00.000Z';
    await appendAuditEvents(database.db, [
      { occurredAt: at, kind: 'approval_requested', tool: 'echo', approvalId: 'a1' },
      { occurredAt: at, kind: 'approved', tool: 'echo', approvalId: 'a1', actor: 'web:alice', via: 'web' },
      { occurredAt: at, kind: 'rejected', tool: 'echo', approvalId: 'a2', actor: 'slack:U024BE7LH', via: 'slack' },
      { occurredAt: at, kind: 'rejected', tool: 'echo', approvalId: 'a3', actor: 'web:alice', via: 'web' },
    ]);
  });
  afterAll(() => database.destroy());

  it('returns only the events that person decided, newest first, with the other filters', async () => {
    const page = await queryAuditEvents(database.db, { actor: 'web:alice' });
    expect(page.events.map((event) => event.record.approvalId)).toEqual(['a3', 'a1']);
    const rejected = await queryAuditEvents(database.db, { actor: 'web:alice', kinds: ['rejected'] });
    expect(rejected.events.map((event) => event.record.approvalId)).toEqual(['a3']);
  });

  it('can use the expression index, so it stays fast at a million rows', async () => {
    const { sql, params } = auditQuerySql({ actor: 'web:alice' });
    const plan = await database.db.transaction(async (tx) => {
      // Few rows make a sequential scan cheapest; forbidding it shows whether the index matches the query at all.
      await tx.query('SET LOCAL enable_seqscan = off');
      const inlined = params.reduce<string>((text, value, i) => text.replace(`$${i + 1}`, typeof value === 'number' ? String(value) : `'${String(value)}'`), sql);
      return tx.query<Record<string, string>>(`EXPLAIN ${inlined}`);
    });
    expect(plan.map((row) => Object.values(row)[0]).join('\n')).toContain('audit_events_actor_seq');
  });
});
