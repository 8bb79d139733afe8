import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createTestDatabase, TEST_DIALECTS, type TestDatabase } from '../../../test/contract/test-databases.js';
import { ManualClock } from '../util/clock.js';
import type { AuditEventKind } from './audit-event.js';
import { AuditLog } from './audit-log.js';
import { auditQuerySql, queryAuditEvents, type AuditQuery } from './audit-store.js';

const KINDS: AuditEventKind[] = ['allowed', 'denied', 'rate_limited'];
const START = Date.parse('2026-11-24T00:00:00Z');

// Rows the plan test fills in with generate_series: enough that a sequential scan, a full sort or filtering
// back from the end of the log would show up as work proportional to the table, which a page must never do.
const SCALE_ROWS = 100_000;
const PAGE_WORK_LIMIT = 2_000;

interface PlanNode {
  'Node Type': string;
  'Actual Rows': number;
  'Actual Loops': number;
  'Rows Removed by Filter'?: number;
  'Rows Removed by Index Recheck'?: number;
  Plans?: PlanNode[];
}

function nodes(node: PlanNode): PlanNode[] {
  return [node, ...(node.Plans ?? []).flatMap(nodes)];
}

for (const dialect of TEST_DIALECTS) {
  describe(`queryAuditEvents on ${dialect}`, () => {
    let database: TestDatabase;
    beforeAll(async () => {
      database = await createTestDatabase(dialect);
      const clock = new ManualClock(START);
      const log = new AuditLog(database.db, { clock });
      for (let i = 1; i <= 90; i++) {
        log.append({
          kind: KINDS[i % 3]!,
          server: `s${i % 2}`,
          tool: `t${i % 5}`,
          agent: `a${i % 3}`,
          grant: `g${i % 4}`,
          approvalId: `ap${i % 9}`,
        });
        clock.advance(1000);
      }
      await log.close();
    });
    afterAll(async () => {
      await database.destroy();
    });

    const seqs = async (query: AuditQuery) => (await queryAuditEvents(database.db, query)).events.map((e) => e.seq);
    const expected = (keep: (i: number) => boolean) =>
      Array.from({ length: 90 }, (_, k) => 90 - k).filter(keep);

    it.each<[string, AuditQuery, (i: number) => boolean]>([
      ['no filter', {}, () => true],
      ['one kind', { kinds: ['denied'] }, (i) => i % 3 === 1],
      ['several kinds', { kinds: ['denied', 'rate_limited'] }, (i) => i % 3 !== 0],
      ['server', { server: 's1' }, (i) => i % 2 === 1],
      ['tool', { tool: 't3' }, (i) => i % 5 === 3],
      ['agent', { agent: 'a2' }, (i) => i % 3 === 2],
      ['grant', { grant: 'g0' }, (i) => i % 4 === 0],
      ['approval id', { approvalId: 'ap4' }, (i) => i % 9 === 4],
      ['time range', { from: new Date(START + 10_000), to: new Date(START + 20_000) }, (i) => i >= 11 && i <= 20],
      ['several filters at once', { tool: 't1', agent: 'a1' }, (i) => i % 5 === 1 && i % 3 === 1],
    ])('filters by %s, newest first', async (_name, query, keep) => {
      expect(await seqs({ ...query, limit: 500 })).toEqual(expected(keep));
    });

    it('pages by seq with no overlap and no gap, and says when the last page is reached', async () => {
      const seen: number[] = [];
      let beforeSeq: number | undefined;
      let pages = 0;
      for (;;) {
        const page = await queryAuditEvents(database.db, { server: 's0', limit: 7, ...(beforeSeq ? { beforeSeq } : {}) });
        pages += 1;
        seen.push(...page.events.map((event) => event.seq));
        if (page.nextBeforeSeq === null) break;
        beforeSeq = page.nextBeforeSeq;
      }
      expect(seen).toEqual(expected((i) => i % 2 === 0));
      expect(pages).toBe(Math.ceil(45 / 7));
    });

    it('returns the parsed event with its chain fields', async () => {
      const { events } = await queryAuditEvents(database.db, { limit: 1 });
      expect(events[0]).toMatchObject({
        seq: 90,
        prevHash: expect.stringMatching(/^[0-9a-f]{64}$/),
        hash: expect.stringMatching(/^[0-9a-f]{64}$/),
        record: { seq: 90, kind: 'allowed', tool: 't0', ts: new Date(START + 89_000).toISOString() },
      });
    });

    it('clamps the page size to 1–500', () => {
      expect(auditQuerySql({ limit: 0 }).limit).toBe(1);
      expect(auditQuerySql({ limit: 10_000 }).limit).toBe(500);
    });
  });

  describe(`audit filter plans on ${dialect} at ${SCALE_ROWS.toLocaleString('en')} rows`, () => {
    let database: TestDatabase;
    beforeAll(async () => {
      database = await createTestDatabase(dialect);
      // Synthetic rows for the planner only: not a valid chain, and never verified.
      await database.db.exec(`
        INSERT INTO audit_events (seq, ts, kind, server, tool, grant_name, agent, approval_id, canonical, prev_hash, hash)
        SELECT g, timestamptz '2026-01-01' + g * interval '1 second',
          (ARRAY['allowed','denied','rate_limited','approval_requested','approved','executed'])[1 + g % 6],
          'server' || (g % 5), 'tool' || (g % 200), 'grant' || (g % 10), 'agent' || (g % 300),
          CASE WHEN g % 20 = 0 THEN 'ap' || g END, '{}', repeat('0', 64), repeat('0', 64)
        FROM generate_series(1, ${SCALE_ROWS}) AS g;
        ANALYZE audit_events;`);
    }, 120_000);
    afterAll(async () => {
      await database.destroy();
    });

    const hour = (h: number) => new Date(Date.parse('2026-01-01T00:00:00Z') + h * 3_600_000);
    it.each<[string, AuditQuery]>([
      ['newest page', {}],
      ['a deep page', { beforeSeq: 1000 }],
      ['kind', { kinds: ['denied'], beforeSeq: 75_000 }],
      ['server', { server: 'server3' }],
      ['tool, deep', { tool: 'tool17', beforeSeq: 10_000 }],
      ['agent', { agent: 'agent42' }],
      ['grant', { grant: 'grant7' }],
      ['approval id', { approvalId: 'ap4000' }],
      ['an old hour', { from: hour(2), to: hour(3) }],
      ['since an old time', { from: hour(1) }],
      ['until an old time', { to: hour(1) }],
      ['tool within an hour', { tool: 'tool17', from: hour(10), to: hour(11) }],
    ])('%s: reads one page worth of rows, never the table', async (_name, query) => {
      const { sql, params } = auditQuerySql(query);
      const [row] = await database.db.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(
        `EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`,
        params,
      );
      const plan = nodes(row!['QUERY PLAN'][0].Plan);
      expect(plan.map((node) => node['Node Type'])).not.toContain('Seq Scan');
      const work = plan.reduce(
        (sum, node) =>
          sum +
          node['Actual Rows'] * node['Actual Loops'] +
          (node['Rows Removed by Filter'] ?? 0) +
          (node['Rows Removed by Index Recheck'] ?? 0),
        0,
      );
      expect(work).toBeLessThan(PAGE_WORK_LIMIT);
    });
  });
}
