/** The history's approver filter (the `actor` column of migration 0004) finds who decided, on both databases. */
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createTestDatabase, TEST_DIALECTS, type TestDatabase } from '../../../test/contract/test-databases.js';
import { appendAuditEvents, auditQuerySql, queryAuditEvents } from '../audit/audit-store.js';
import { chainHash, GENESIS_HASH } from '../audit/hash-chain.js';
import { verifyAuditLog } from '../audit/verify.js';
import { defaultMigrationsDir, migrate } from '../db/migrate.js';
import { canonicalJson } from '../util/canonical-json.js';

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

  it('can use its index, so it stays fast at a million rows', async () => {
    const { sql, params } = auditQuerySql({ actor: 'web:alice' });
    const plan = await database.db.transaction(async (tx) => {
      // Few rows make a sequential scan cheapest; forbidding it shows whether the index matches the query at all.
      await tx.query('SET LOCAL enable_seqscan = off');
      const inlined = params.reduce<string>((text, value, i) => text.replace(`$${i + 1}`, typeof value === 'number' ? String(value) : `'${String(value)}'`), sql);
      return tx.query<Record<string, string>>(`EXPLAIN ${inlined}`);
    });
    expect(plan.map((row) => Object.values(row)[0]).join('\n')).toContain('audit_events_actor_seq');
  });

  it('finds decisions logged before migration 0004 added the column, and the chain still verifies', async () => {
    const old = await createTestDatabase(dialect, { migrated: false });
    const dir = await mkdtemp(join(tmpdir(), 'airlock-migrations-'));
    try {
      for (const name of ['0001_init.sql', '0002_console_roles.sql', '0003_approval_tool_annotations.sql']) {
        await copyFile(join(defaultMigrationsDir(), name), join(dir, name));
      }
      expect((await migrate(old.db, { dir })).error).toBeUndefined();
      const ts = '2026-11-20T09:00:00.000Z';
      const canonical = canonicalJson({ seq: 1, ts, kind: 'approved', tool: 'echo', approvalId: 'old', actor: 'web:bob', via: 'web' });
      const hash = chainHash(GENESIS_HASH, canonical);
      await old.db.query(
        `INSERT INTO audit_events (seq, ts, kind, tool, approval_id, canonical, prev_hash, hash) VALUES (1, $1, 'approved', 'echo', 'old', $2, $3, $4)`,
        [ts, canonical, GENESIS_HASH, hash],
      );
      await old.db.query('UPDATE audit_chain_head SET seq = 1, hash = $1, ts = $2 WHERE id = 1', [hash, ts]);

      expect((await migrate(old.db)).error).toBeUndefined();
      const page = await queryAuditEvents(old.db, { actor: 'web:bob' });
      expect(page.events.map((event) => event.record.approvalId)).toEqual(['old']);
      expect(await verifyAuditLog(old.db)).toMatchObject({ ok: true, rows: 1 });
    } finally {
      await old.destroy();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
