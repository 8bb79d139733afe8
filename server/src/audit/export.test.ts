import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createTestDatabase, TEST_DIALECTS, type TestDatabase } from '../../../test/contract/test-databases.js';
import { ManualClock } from '../util/clock.js';
import { AuditLog } from './audit-log.js';
import { writeAuditExport, type ExportSince } from './export.js';
import { verifyAuditExport, verifyAuditLog } from './verify.js';

const START = Date.parse('2026-11-24T00:00:00Z');

for (const dialect of TEST_DIALECTS) {
  describe(`audit export on ${dialect}`, () => {
    let database: TestDatabase;
    let dir: string;
    beforeAll(async () => {
      database = await createTestDatabase(dialect);
      dir = await mkdtemp(join(tmpdir(), 'airlock-export-'));
      // One event a minute, so --since a time has something to cut.
      const clock = new ManualClock(START);
      const log = new AuditLog(database.db, { clock });
      for (let i = 1; i <= 120; i++) {
        log.append({ kind: i % 2 ? 'allowed' : 'denied', tool: `tool${i}`, args: { n: i } });
        clock.advance(60_000);
      }
      await log.close();
    });
    afterAll(async () => {
      await database.destroy();
      await rm(dir, { recursive: true, force: true });
    });

    async function exportTo(name: string, since?: ExportSince): Promise<string> {
      const path = join(dir, name);
      const stream = createWriteStream(path);
      await writeAuditExport(database.db, stream, since);
      stream.end();
      await once(stream, 'finish');
      return path;
    }

    it('writes one verifiable line per row, checkable with nothing but SHA-256', async () => {
      const path = await exportTo('all.jsonl');
      const lines = (await readFile(path, 'utf8')).trimEnd().split('\n');
      expect(lines).toHaveLength(120);
      let prev = '0'.repeat(64);
      for (const [i, text] of lines.entries()) {
        const line = JSON.parse(text) as { seq: number; prev_hash: string; hash: string; canonical: string };
        expect(Object.keys(line)).toEqual(['canonical', 'hash', 'prev_hash', 'seq']);
        expect(line.seq).toBe(i + 1);
        expect(line.prev_hash).toBe(prev);
        expect(createHash('sha256').update(line.prev_hash + line.canonical).digest('hex')).toBe(line.hash);
        prev = line.hash;
      }
    });

    it('round-trips: the export verifies, ending at the database’s last hash', async () => {
      const path = await exportTo('round-trip.jsonl');
      const fromDb = await verifyAuditLog(database.db);
      expect(await verifyAuditExport(path)).toEqual({ ...fromDb, ok: true, rows: 120 });
    });

    it('exports from a seq or a time to the end, anchored at its first prev_hash', async () => {
      const bySeq = await verifyAuditExport(await exportTo('since-seq.jsonl', { seq: 100 }));
      expect(bySeq).toMatchObject({ ok: true, rows: 21, firstSeq: 100, lastSeq: 120, anchoredAt: { seq: 100 } });

      // Event n happened at START + (n - 1) minutes.
      const byTime = await verifyAuditExport(await exportTo('since-ts.jsonl', { ts: new Date(START + 89 * 60_000) }));
      expect(byTime).toMatchObject({ ok: true, rows: 31, firstSeq: 90, lastSeq: 120 });

      const empty = await verifyAuditExport(await exportTo('since-future.jsonl', { ts: new Date(START + 10 ** 9) }));
      expect(empty).toMatchObject({ ok: true, rows: 0 });
    });

    describe('when the export file is tampered with', () => {
      let lines: string[];
      beforeAll(async () => {
        lines = (await readFile(await exportTo('original.jsonl'), 'utf8')).trimEnd().split('\n');
      });
      async function verifyLines(name: string, edited: string[]) {
        const path = join(dir, name);
        await writeFile(path, `${edited.join('\n')}\n`);
        return verifyAuditExport(path);
      }

      it('names an edited line', async () => {
        const edited = [...lines];
        edited[41] = edited[41]!.replace('tool42', 'tool99');
        expect((await verifyLines('edited.jsonl', edited)).problems).toEqual([
          { seq: 42, line: 42, message: 'hash does not match the row: its content, prev_hash or hash was edited' },
        ]);
      });

      it('names a deleted line', async () => {
        const edited = lines.filter((_, i) => i !== 59);
        expect((await verifyLines('deleted.jsonl', edited)).problems).toEqual([
          { seq: 60, message: 'seq 60 is missing: deleted between seq 59 and seq 61' },
        ]);
      });

      it('names swapped lines', async () => {
        const edited = [...lines];
        [edited[9], edited[10]] = [edited[10]!, edited[9]!];
        const { ok, problems } = await verifyLines('swapped.jsonl', edited);
        expect(ok).toBe(false);
        expect(problems).toContainEqual({ seq: 10, line: 11, message: 'out of order: seq 10 comes after seq 11' });
      });

      it('names a line that is not an export row', async () => {
        const edited = [...lines];
        edited[4] = '{"seq":5}';
        const { problems } = await verifyLines('malformed.jsonl', edited);
        expect(problems[0]).toEqual({ line: 5, message: 'not a valid export row (expected seq, prev_hash, hash, canonical)' });
      });
    });
  });
}
