import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { createTestDatabase, TEST_DIALECTS, type TestDatabase } from '../../../test/contract/test-databases.js';
import { AirlockError } from '../errors/airlock-error.js';
import type { Db } from '../db/db.js';
import { ManualClock } from '../util/clock.js';
import type { AuditEvent, AuditEventKind } from './audit-event.js';
import { AuditLog } from './audit-log.js';
import { REDACTED } from './redact.js';
import { verifyAuditLog } from './verify.js';

const KINDS: AuditEventKind[] = ['allowed', 'denied', 'rate_limited', 'approval_requested', 'approved', 'executed'];

function event(i: number): AuditEvent {
  return {
    kind: KINDS[i % KINDS.length]!,
    server: `server${i % 3}`,
    tool: `tool${i % 7}`,
    grant: 'ci',
    agent: `agent${i % 2}`,
    approvalId: i % 10 === 0 ? `ap_${i}` : undefined,
    args: { amount: i, password: `pw${i}` },
    // Line feeds, quotes and backslashes must survive the trip: the canonical records travel as lines of one text.
    ...(i % 4 === 0 ? { reason: `line one\nline "two" \\ ${i}\r\n\u2028☃` } : {}),
    ...(i % KINDS.length === 5 ? { upstreamStatus: 'ok', durationMs: i } : {}),
  };
}

/** Fails the next `n` writes the way an unreachable database does. */
class FlakyDb implements Db {
  readonly dialect;
  failuresLeft = 0;
  constructor(readonly inner: Db) {
    this.dialect = inner.dialect;
  }
  query<T>(sql: string, params?: readonly unknown[]) {
    return this.inner.query<T>(sql, params);
  }
  exec(sql: string) {
    return this.inner.exec(sql);
  }
  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    if (this.failuresLeft > 0) {
      this.failuresLeft -= 1;
      return Promise.reject(new AirlockError('STORAGE_UNAVAILABLE', 'PostgreSQL at test is unavailable'));
    }
    return this.inner.transaction(fn);
  }
  close() {
    return this.inner.close();
  }
}

/** Counts the log's writes (a transaction, or one statement onto a known tip) and can hold them until released. */
class GatedDb implements Db {
  readonly dialect;
  writes = 0;
  #gate: Promise<void> | undefined;
  #open: (() => void) | undefined;
  constructor(readonly inner: Db) {
    this.dialect = inner.dialect;
  }
  hold(): void {
    this.#gate = new Promise((resolve) => (this.#open = resolve));
  }
  release(): void {
    this.#open?.();
    this.#gate = undefined;
  }
  async query<T>(sql: string, params?: readonly unknown[]) {
    if (sql.includes('INSERT INTO audit_events')) await this.#write();
    return this.inner.query<T>(sql, params);
  }
  exec(sql: string) {
    return this.inner.exec(sql);
  }
  async transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    await this.#write();
    return this.inner.transaction(fn);
  }
  close() {
    return this.inner.close();
  }
  async #write(): Promise<void> {
    this.writes += 1;
    await this.#gate;
  }
}

async function rawTamper(db: Db, sql: string, params: unknown[] = []): Promise<void> {
  // Whoever edits the table directly has to switch the append-only trigger off first; the chain still tells.
  await db.transaction(async (tx) => {
    await tx.exec('ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only');
    await tx.query(sql, params);
    await tx.exec('ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only');
  });
}

for (const dialect of TEST_DIALECTS) {
  describe(`AuditLog on ${dialect}`, () => {
    let database: TestDatabase;
    let db: Db;
    beforeAll(async () => {
      database = await createTestDatabase(dialect);
      db = database.db;
    });
    afterAll(async () => {
      await database.destroy();
    });

    describe('when 1,000 events go through the buffered writer', () => {
      let log: AuditLog;
      beforeAll(async () => {
        log = new AuditLog(db, { maxBatch: 300, clock: new ManualClock(Date.parse('2026-11-24T00:00:00Z')) });
        for (let i = 1; i <= 1000; i++) log.append(event(i));
        await log.flush();
      });

      it('stores them all, in order, and verify passes', async () => {
        expect(log.buffered).toBe(0);
        const result = await verifyAuditLog(db);
        expect(result).toMatchObject({ ok: true, rows: 1000, firstSeq: 1, lastSeq: 1000, problems: [] });
        const [head] = await db.query<{ seq: number; hash: string }>('SELECT seq, hash FROM audit_chain_head');
        expect(head).toEqual({ seq: 1000, hash: result.lastHash });
      });

      it('stores redacted arguments, their hash, and the filter columns', async () => {
        const [row] = await db.query<{ canonical: string; tool: string; agent: string; approval_id: string }>(
          'SELECT canonical, tool, agent, approval_id FROM audit_events WHERE seq = 10',
        );
        const record = JSON.parse(row!.canonical) as Record<string, unknown>;
        expect(record).toMatchObject({ seq: 10, kind: KINDS[10 % KINDS.length], tool: 'tool3', approvalId: 'ap_10' });
        expect(record.args).toEqual({ amount: expect.stringMatching(/^sha256:[0-9a-f]{64}$/), password: REDACTED });
        expect(record.argsHash).toMatch(/^[0-9a-f]{64}$/);
        expect(row!.canonical).not.toContain('pw10');
        expect(row).toMatchObject({ tool: 'tool3', agent: 'agent0', approval_id: 'ap_10' });
      });

      it('keeps line feeds, quotes and backslashes of a reason exactly', async () => {
        const [row] = await db.query<{ canonical: string }>('SELECT canonical FROM audit_events WHERE seq = 12');
        expect((JSON.parse(row!.canonical) as { reason: string }).reason).toBe('line one\nline "two" \\ 12\r\n\u2028☃');
      });

      it('refuses UPDATE and DELETE on the table (append-only)', async () => {
        await expect(db.query(`UPDATE audit_events SET kind = 'allowed' WHERE seq = 1`)).rejects.toThrow(/append-only/);
        await expect(db.query('DELETE FROM audit_events WHERE seq = 1')).rejects.toThrow(/append-only/);
      });

      describe('and then a row is tampered with in SQL', () => {
        it('names an edited event', async () => {
          const [original] = await db.query<{ canonical: string }>('SELECT canonical FROM audit_events WHERE seq = 500');
          await rawTamper(db, `UPDATE audit_events SET canonical = replace(canonical, '"kind":"', '"kind":"x') WHERE seq = 500`);
          const result = await verifyAuditLog(db);
          expect(result.ok).toBe(false);
          expect(result.problems).toContainEqual({ seq: 500, message: expect.stringMatching(/^hash does not match the row/) });
          expect(result.problems.every((problem) => problem.seq === 500)).toBe(true);

          await rawTamper(db, 'UPDATE audit_events SET canonical = $1 WHERE seq = 500', [original!.canonical]);
          expect((await verifyAuditLog(db)).ok).toBe(true);
        });

        it('names an edited filter column, even though the hashed event is intact', async () => {
          await rawTamper(db, `UPDATE audit_events SET tool = 'innocent' WHERE seq = 321`);
          const result = await verifyAuditLog(db);
          expect(result.problems).toEqual([
            { seq: 321, message: 'column tool is "innocent" but the hashed event says "tool6" (edited)' },
          ]);
          await rawTamper(db, `UPDATE audit_events SET tool = 'tool6' WHERE seq = 321`);
          expect((await verifyAuditLog(db)).ok).toBe(true);
        });

        it('names a deleted row', async () => {
          const [saved] = await db.query('SELECT * FROM audit_events WHERE seq = 700');
          await rawTamper(db, 'DELETE FROM audit_events WHERE seq = 700');
          const result = await verifyAuditLog(db);
          expect(result.ok).toBe(false);
          expect(result.problems).toEqual([{ seq: 700, message: 'seq 700 is missing: deleted between seq 699 and seq 701' }]);

          await reinsert(db, saved!);
          expect((await verifyAuditLog(db)).ok).toBe(true);
        });

        it('names deleted rows at the end, against the chain head', async () => {
          const saved = await db.query('SELECT * FROM audit_events WHERE seq >= 999 ORDER BY seq');
          await rawTamper(db, 'DELETE FROM audit_events WHERE seq >= 999');
          const result = await verifyAuditLog(db);
          expect(result.problems).toEqual([
            { seq: 999, message: 'the chain head records 1000 rows but the log ends at seq 998: the last rows were deleted' },
          ]);
          for (const row of saved) await reinsert(db, row);
          expect((await verifyAuditLog(db)).ok).toBe(true);
        });

        it('names both rows when two rows swap places', async () => {
          const swap = `UPDATE audit_events a SET ts = b.ts, kind = b.kind, server = b.server, tool = b.tool,
            grant_name = b.grant_name, agent = b.agent, approval_id = b.approval_id, canonical = b.canonical,
            prev_hash = b.prev_hash, hash = b.hash
            FROM audit_events b WHERE (a.seq = 10 AND b.seq = 11) OR (a.seq = 11 AND b.seq = 10)`;
          await rawTamper(db, swap);
          const result = await verifyAuditLog(db);
          expect(result.ok).toBe(false);
          expect(result.problems).toEqual(
            expect.arrayContaining([
              { seq: 10, message: 'holds the event of seq 11: rows were reordered' },
              { seq: 11, message: 'holds the event of seq 10: rows were reordered' },
            ]),
          );
          // Seq 12 still links to the hash that used to be at seq 11, so its link is named too.
          expect(new Set(result.problems.map((problem) => problem.seq))).toEqual(new Set([10, 11, 12]));

          await rawTamper(db, swap);
          expect((await verifyAuditLog(db)).ok).toBe(true);
        });
      });
    });

    it('gathers what arrives during a write for the next one, rather than writing it at once', async () => {
      const gated = new GatedDb(db);
      const log = new AuditLog(gated, { flushDelayMs: 60_000 });
      log.append({ kind: 'allowed', tool: 'gather-1' });
      gated.hold();
      const first = log.flush();
      await vi.waitFor(() => expect(gated.writes).toBe(1));
      log.append({ kind: 'allowed', tool: 'gather-2' });
      gated.release();
      await first;
      // One turn of the timers: a write scheduled at once would have begun by its end.
      await new Promise((resolve) => setTimeout(resolve, 0));
      expect(gated.writes).toBe(1);
      expect(log.buffered).toBe(1);
      await log.close();
      expect(gated.writes).toBe(2);
      expect(log.buffered).toBe(0);
    });

    describe('when a write fails', () => {
      it('keeps the events, reports the failure, retries, and stores them in order', async () => {
        const flaky = new FlakyDb(db);
        const errors: number[] = [];
        const log = new AuditLog(flaky, { flushDelayMs: 1, retryMinMs: 5, onWriteError: (_e, buffered) => errors.push(buffered) });
        flaky.failuresLeft = 2;
        const before = (await verifyAuditLog(db)).lastSeq ?? 0;
        for (let i = 0; i < 5; i++) log.append({ kind: 'allowed', tool: `retry${i}` });

        await vi.waitFor(() => expect(log.buffered).toBe(0), { timeout: 5000, interval: 5 });
        expect(errors).toEqual([5, 5]);
        const rows = await db.query<{ tool: string }>('SELECT tool FROM audit_events WHERE seq > $1 ORDER BY seq', [before]);
        expect(rows.map((row) => row.tool)).toEqual(['retry0', 'retry1', 'retry2', 'retry3', 'retry4']);
        expect((await verifyAuditLog(db)).ok).toBe(true);
      });

      it('rejects flush while the database is down, and a later flush succeeds with nothing lost', async () => {
        const flaky = new FlakyDb(db);
        const log = new AuditLog(flaky, { flushDelayMs: 60_000, retryMinMs: 60_000 });
        log.append({ kind: 'denied', tool: 'flush-a' });
        flaky.failuresLeft = 1;
        await expect(log.flush()).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
        expect(log.buffered).toBe(1);
        log.append({ kind: 'denied', tool: 'flush-b' });
        await log.close();
        expect(log.buffered).toBe(0);
        const rows = await db.query<{ tool: string }>(`SELECT tool FROM audit_events WHERE tool LIKE 'flush-%' ORDER BY seq`);
        expect(rows.map((row) => row.tool)).toEqual(['flush-a', 'flush-b']);
      });

      it('hands out the events it could not store, oldest first and redacted, until they are stored', async () => {
        const flaky = new FlakyDb(db);
        const log = new AuditLog(flaky, { flushDelayMs: 60_000, retryMinMs: 60_000 });
        log.append({ kind: 'allowed', tool: 'kept-a', args: { path: '/tmp/x', api_key: 'sk-live-123' } });
        log.append({ kind: 'executed', tool: 'kept-a', upstreamStatus: 'ok', durationMs: 3 });
        flaky.failuresLeft = 1;
        await expect(log.close()).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE' });

        const kept = log.unwritten();
        expect(kept.map((event) => [event.kind, event.tool])).toEqual([
          ['allowed', 'kept-a'],
          ['executed', 'kept-a'],
        ]);
        expect(kept[0]!.argsHash).toMatch(/^[0-9a-f]{64}$/);
        expect(JSON.stringify(kept)).not.toContain('sk-live-123');
        expect(JSON.stringify(kept)).not.toContain('/tmp/x');

        await log.flush();
        expect(log.unwritten()).toEqual([]);
      });
    });

    describe('when the database stays away', () => {
      it('is full at maxBacklog; calls refused meanwhile are counted in one event, stored where they began', async () => {
        const flaky = new FlakyDb(db);
        const clock = new ManualClock(Date.now());
        const log = new AuditLog(flaky, { flushDelayMs: 60_000, retryMinMs: 60_000, maxBacklog: 3, clock });
        const before = (await verifyAuditLog(db)).lastSeq ?? 0;
        log.append({ kind: 'allowed', tool: 'backlog-0' });
        flaky.failuresLeft = 1;
        await expect(log.flush()).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
        expect(log.lastWriteError?.message).toBe('PostgreSQL at test is unavailable');
        log.append({ kind: 'executed', tool: 'backlog-0', upstreamStatus: 'ok' });
        expect(log.full).toBe(false);
        log.append({ kind: 'allowed', tool: 'backlog-1' });
        expect(log.full).toBe(true);

        const firstRefusal = new Date(clock.now()).toISOString();
        expect(log.noteRefusedCall()).toBe(true);
        clock.advance(1500);
        expect(log.noteRefusedCall()).toBe(false);
        expect(log.noteRefusedCall()).toBe(false);
        // A call that was already running when the log filled up is still recorded, past the limit.
        log.append({ kind: 'executed', tool: 'backlog-1', upstreamStatus: 'ok' });
        expect(log.buffered).toBe(5);

        await log.flush();
        expect(log.full).toBe(false);
        expect(log.lastWriteError).toBeUndefined();
        // Once that count is stored, a new run of refusals gets an event of its own.
        expect(log.noteRefusedCall()).toBe(true);
        await log.close();

        const rows = await db.query<{ kind: string; tool: string | null; canonical: string }>(
          'SELECT kind, tool, canonical FROM audit_events WHERE seq > $1 ORDER BY seq',
          [before],
        );
        expect(rows.map((row) => [row.kind, row.tool])).toEqual([
          ['allowed', 'backlog-0'],
          ['executed', 'backlog-0'],
          ['allowed', 'backlog-1'],
          ['denied', null],
          ['executed', 'backlog-1'],
          ['denied', null],
        ]);
        const counted = JSON.parse(rows[3]!.canonical) as Record<string, unknown>;
        expect(counted.reason).toMatch(/audit log could not be stored.*3 events.*audit\.maxBacklog/);
        expect(counted.detail).toEqual({ refusedCalls: 3, lastRefusedAt: new Date(clock.now()).toISOString() });
        expect(counted.occurredAt ?? counted.ts).toBe(firstRefusal);
        expect(JSON.parse(rows[5]!.canonical)).toMatchObject({ detail: { refusedCalls: 1 } });
        expect((await verifyAuditLog(db)).ok).toBe(true);
      });
    });

    describe('appendInTransaction', () => {
      it('commits the audit row with the caller’s change, and drops it when the caller rolls back', async () => {
        const log = new AuditLog(db);
        await db.exec('CREATE TABLE decisions (id text PRIMARY KEY)');
        const row = await db.transaction(async (tx) => {
          await tx.query(`INSERT INTO decisions VALUES ('d1')`);
          return log.appendInTransaction(tx, { kind: 'approved', approvalId: 'd1', actor: 'slack:U1', via: 'slack' });
        });
        expect(await db.query(`SELECT approval_id FROM audit_events WHERE seq = $1`, [row.seq])).toEqual([{ approval_id: 'd1' }]);

        await expect(
          db.transaction(async (tx) => {
            await tx.query(`INSERT INTO decisions VALUES ('d2')`);
            await log.appendInTransaction(tx, { kind: 'approved', approvalId: 'd2' });
            throw new Error('decision lost the race');
          }),
        ).rejects.toThrow('decision lost the race');
        expect(await db.query(`SELECT seq FROM audit_events WHERE approval_id = 'd2'`)).toEqual([]);

        log.append({ kind: 'executed', approvalId: 'd1', upstreamStatus: 'ok', durationMs: 12 });
        await log.close();
        expect((await verifyAuditLog(db)).ok).toBe(true);
      });

      it('costs one statement once the log knows the tip, and starts over from the locked head when another writer moved it', async () => {
        const statements: string[] = [];
        const counting: Db = {
          dialect: db.dialect,
          query: (sql, params) => {
            statements.push(sql);
            return db.query(sql, params);
          },
          exec: (sql) => db.exec(sql),
          transaction: (fn) => db.transaction(fn),
          close: () => db.close(),
        };
        const log = new AuditLog(db);
        const other = new AuditLog(db);
        await log.appendInTransaction(counting, { kind: 'approved', approvalId: 'tip-1' });
        statements.length = 0;
        await log.appendInTransaction(counting, { kind: 'approved', approvalId: 'tip-2' });
        expect(statements).toHaveLength(1);

        await other.appendInTransaction(db, { kind: 'approved', approvalId: 'other' });
        statements.length = 0;
        const row = await log.appendInTransaction(counting, { kind: 'approved', approvalId: 'tip-3' });
        expect(statements.map((sql) => sql.trim().split(/\s+/, 1)[0])).toEqual(['WITH', 'SELECT', 'INSERT', 'UPDATE']);
        const [otherRow] = await db.query<{ seq: number }>(`SELECT seq FROM audit_events WHERE approval_id = 'other'`);
        expect(row.seq).toBe(otherRow!.seq + 1);
        expect((await verifyAuditLog(db)).ok).toBe(true);
      });
    });

    describe('timestamps', () => {
      it('keeps ts in seq order: an event that reaches the log late keeps its own time as occurredAt', async () => {
        const log = new AuditLog(db, { flushDelayMs: 60_000 });
        const late = new Date(Date.now() + 3_600_000);
        log.append({ kind: 'allowed', tool: 'buffered-first', occurredAt: new Date(late.getTime() - 1000) });
        const direct = await log.appendInTransaction(db, { kind: 'allowed', tool: 'written-first', occurredAt: late });
        await log.close();
        const [row] = await db.query<{ canonical: string }>('SELECT canonical FROM audit_events WHERE seq = $1', [direct.seq + 1]);
        expect(JSON.parse(direct.canonical)).not.toHaveProperty('occurredAt');
        expect(JSON.parse(row!.canonical)).toMatchObject({
          tool: 'buffered-first',
          ts: late.toISOString(),
          occurredAt: new Date(late.getTime() - 1000).toISOString(),
        });
        expect((await verifyAuditLog(db)).ok).toBe(true);
      });
    });

    describe('append', () => {
      it('throws at once, listing the problems, for an invalid event', () => {
        const log = new AuditLog(db);
        const error = (() => {
          try {
            log.append({ kind: 'bogus', durationMs: -1 } as unknown as AuditEvent);
          } catch (e) {
            return e;
          }
          return undefined;
        })();
        expect(error).toBeInstanceOf(AirlockError);
        expect((error as AirlockError).details).toEqual([expect.stringMatching(/^kind: /), expect.stringMatching(/^durationMs: /)]);
        expect(log.buffered).toBe(0);
      });

      it('refuses events after close', async () => {
        const log = new AuditLog(db);
        await log.close();
        expect(() => log.append({ kind: 'allowed' })).toThrow('The audit log is closed');
      });

      it('keeps argument values when asked, secrets excepted', async () => {
        const log = new AuditLog(db, { keepArgValues: true });
        const row = await log.appendInTransaction(db, { kind: 'allowed', args: { amount: 5, api_key: 'k' } });
        expect(JSON.parse(row.canonical)).toMatchObject({ args: { amount: 5, api_key: REDACTED } });
      });
    });
  });
}

if (TEST_DIALECTS.includes('postgres')) {
  describe('two AuditLog instances on one PostgreSQL', () => {
    let database: TestDatabase;
    beforeAll(async () => {
      database = await createTestDatabase('postgres');
    });
    afterAll(async () => {
      await database.destroy();
    });

    it('append concurrently and still form one valid chain, which verifies while they write', async () => {
      const other = await database.connectAgain();
      const logs = [new AuditLog(database.db, { maxBatch: 20, flushDelayMs: 0 }), new AuditLog(other, { maxBatch: 20, flushDelayMs: 0 })];
      for (let i = 0; i < 600; i++) logs[i % 2]!.append({ ...event(i), agent: `instance${i % 2}` });
      const [during] = await Promise.all([verifyAuditLog(await database.connectAgain()), ...logs.map((log) => log.close())]);
      expect(during).toMatchObject({ ok: true, problems: [] });

      const result = await verifyAuditLog(database.db);
      expect(result).toMatchObject({ ok: true, rows: 600, lastSeq: 600 });
      const perInstance = await database.db.query<{ agent: string; n: number }>(
        'SELECT agent, count(*) AS n FROM audit_events GROUP BY agent ORDER BY agent',
      );
      expect(perInstance).toEqual([
        { agent: 'instance0', n: 300 },
        { agent: 'instance1', n: 300 },
      ]);
    });
  });
}

async function reinsert(db: Db, row: Record<string, unknown>): Promise<void> {
  const columns = ['seq', 'ts', 'kind', 'server', 'tool', 'grant_name', 'agent', 'approval_id', 'canonical', 'prev_hash', 'hash'];
  await db.query(
    `INSERT INTO audit_events (${columns.join(', ')}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')})`,
    columns.map((column) => (column === 'ts' ? (row.ts as Date).toISOString() : row[column])),
  );
}
