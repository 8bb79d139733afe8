import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';

import { borrowDb, createTestDatabase, TEST_DIALECTS, type TestDatabase } from '../../../test/contract/test-databases.js';
import { AuditLog } from '../audit/audit-log.js';
import { migrate } from '../db/migrate.js';
import { openPgliteDb } from '../db/pglite-db.js';
import { ManualClock } from '../util/clock.js';
import { parseSince, runAuditCommand } from './audit-command.js';

function captureIo() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: (text: string) => out.push(text), stderr: (text: string) => err.push(text) }, out, err };
}

const START = Date.parse('2026-11-24T00:00:00Z');

for (const dialect of TEST_DIALECTS) {
  describe(`airlock audit on ${dialect}`, () => {
    let database: TestDatabase;
    let dir: string;
    let deps: { openDb: () => Promise<ReturnType<typeof borrowDb>> };
    const run = async (...argv: string[]) => {
      const { io, out, err } = captureIo();
      const code = await runAuditCommand(argv, io, deps);
      return { code, out: out.join(''), err: err.join('\n') };
    };

    beforeAll(async () => {
      database = await createTestDatabase(dialect);
      deps = { openDb: async () => borrowDb(database.db) };
      dir = await mkdtemp(join(tmpdir(), 'airlock-audit-cli-'));
      const clock = new ManualClock(START);
      const log = new AuditLog(database.db, { clock });
      for (let i = 1; i <= 50; i++) {
        log.append({ kind: 'allowed', server: 'github', tool: `tool${i}` });
        clock.advance(60_000);
      }
      await log.close();
    });
    afterAll(async () => {
      await database.destroy();
      await rm(dir, { recursive: true, force: true });
    });

    describe('verify', () => {
      it('exits 0 on a valid log and prints its range and last hash', async () => {
        const result = await run('verify');
        expect(result.code).toBe(0);
        expect(result.out).toMatch(/^audit log: valid, 50 rows \(seq 1–50\), last hash [0-9a-f]{64}$/);
      });

      it('exits 1 on a tampered log and names the row', async () => {
        await database.db.transaction(async (tx) => {
          await tx.exec('ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only');
          await tx.exec(`UPDATE audit_events SET canonical = replace(canonical, 'tool7"', 'tool8"') WHERE seq = 7`);
          const { io, out } = captureIo();
          expect(await runAuditCommand(['verify'], io, { openDb: async () => borrowDb(tx) })).toBe(1);
          expect(out.join('')).toBe(
            'audit log: INVALID, 2 problems in 50 rows (seq 1–50)\n' +
              '  seq 7: hash does not match the row: its content, prev_hash or hash was edited\n' +
              '  seq 7: column tool is "tool7" but the hashed event says "tool8" (edited)',
          );
          // Rolled back: the remaining tests need the valid log.
          throw new Error('rollback');
        }).catch((error: Error) => expect(error.message).toBe('rollback'));
        expect((await run('verify')).code).toBe(0);
      });

      it('prints the full result as JSON with --json', async () => {
        const result = await run('verify', '--json');
        expect(JSON.parse(result.out)).toMatchObject({ ok: true, rows: 50, problems: [] });
      });
    });

    describe('export', () => {
      it('prints verifiable JSONL to stdout', async () => {
        const result = await run('export', '--format', 'jsonl');
        expect(result.code).toBe(0);
        const lines = result.out.trimEnd().split('\n');
        expect(lines).toHaveLength(50);
        expect(JSON.parse(lines[0]!)).toMatchObject({ seq: 1, prev_hash: '0'.repeat(64) });
      });

      it('writes --output FILE, which `verify --file` accepts; an edited file exits 1 naming the line', async () => {
        const file = join(dir, 'audit.jsonl');
        const exported = await run('export', '--format', 'jsonl', '--output', file);
        expect(exported).toMatchObject({ code: 0, out: '', err: `exported 50 rows (seq 1–50) to ${file}` });

        const verified = await run('verify', '--file', file);
        expect(verified.code).toBe(0);
        expect(verified.out).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: valid, 50 rows`));

        const lines = (await readFile(file, 'utf8')).split('\n');
        lines[19] = lines[19]!.replace('allowed', 'denied');
        await writeFile(file, lines.join('\n'));
        const tampered = await run('verify', '--file', file);
        expect(tampered.code).toBe(1);
        expect(tampered.out).toContain('  line 20, seq 20: hash does not match the row');
      });

      it('starts at --since SEQ or --since TIME, and the partial export verifies with its anchor named', async () => {
        const bySeq = await run('export', '--format', 'jsonl', '--since', '41');
        expect(bySeq.out.trimEnd().split('\n')).toHaveLength(10);

        const file = join(dir, 'since.jsonl');
        // Event n was recorded at START + (n - 1) minutes.
        await run('export', '--format', 'jsonl', '--since', new Date(START + 44 * 60_000).toISOString(), '--output', file);
        const verified = await run('verify', '--file', file);
        expect(verified.code).toBe(0);
        expect(verified.out).toMatch(/valid, 6 rows \(seq 45–50\)/);
        expect(verified.out).toMatch(/starts at seq 45; its prev_hash [0-9a-f]{64} was not checked/);
      });
    });

    it('explains that an unmigrated database has no audit log yet', async () => {
      const empty = await createTestDatabase(dialect, { migrated: false });
      try {
        const { io, err } = captureIo();
        expect(await runAuditCommand(['verify'], io, { openDb: async () => borrowDb(empty.db) })).toBe(2);
        expect(err).toEqual(['airlock audit: this database has no audit log yet: run `airlock migrate` first']);
      } finally {
        await empty.destroy();
      }
    });
  });
}

describe('airlock audit --config', () => {
  let dir: string;
  const configFor = async (dataDir: string) => {
    const file = join(dir, 'airlock.config.json');
    await writeFile(file, JSON.stringify({ servers: {}, database: { dataDir } }));
    return file;
  };
  const run = async (...argv: string[]) => {
    const { io, out, err } = captureIo();
    const code = await runAuditCommand(argv, io);
    return { code, out: out.join(''), err: err.join('\n') };
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'airlock-audit-config-'));
    const db = await openPgliteDb(join(dir, 'data'));
    await migrate(db);
    const log = new AuditLog(db);
    for (const tool of ['a', 'b', 'c']) log.append({ kind: 'allowed', server: 'github', tool });
    await log.close();
    await db.close();
  });
  // The environment overrides the file; these tests mean the file.
  beforeEach(() => {
    vi.stubEnv('DATABASE_URL', '');
    vi.stubEnv('AIRLOCK_DATA_DIR', '');
  });
  afterEach(() => vi.unstubAllEnvs());
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('verifies and exports the database the config file names, as serve would open it', async () => {
    const config = await configFor(join(dir, 'data'));
    expect(await run('verify', '--config', config)).toMatchObject({ code: 0, out: expect.stringMatching(/^audit log: valid, 3 rows \(seq 1–3\)/) });
    const exported = await run('export', '--format', 'jsonl', '--config', config);
    expect(exported.out.trimEnd().split('\n').map((line) => JSON.parse(line).seq)).toEqual([1, 2, 3]);
  });

  it('creates nothing where no database exists, and names the directory and how to point at one', async () => {
    const missing = join(dir, 'nowhere');
    const output = join(dir, 'never.jsonl');
    const expected = `airlock audit: no Airlock database exists at ${missing}; point at the gateway's with --config <its config file>, AIRLOCK_DATA_DIR=<its data directory> or DATABASE_URL=<its PostgreSQL URL>`;
    vi.stubEnv('AIRLOCK_DATA_DIR', missing);
    expect(await run('verify')).toEqual({ code: 2, out: '', err: expected });
    expect(existsSync(missing)).toBe(false);
    vi.stubEnv('AIRLOCK_DATA_DIR', '');
    const config = await configFor(missing);
    expect(await run('verify', '--config', config)).toEqual({ code: 2, out: '', err: expected });
    expect(await run('export', '--format', 'jsonl', '--output', output, '--config', config)).toEqual({ code: 2, out: '', err: expected });
    expect(existsSync(missing)).toBe(false);
    expect(existsSync(output)).toBe(false);
  });

  it('names the process holding an embedded database that is open elsewhere', async () => {
    const held = await openPgliteDb(join(dir, 'data'));
    try {
      const refused = await run('verify', '--config', await configFor(join(dir, 'data')));
      expect(refused.code).toBe(2);
      expect(refused.err).toContain(`Airlock data directory ${join(dir, 'data')} is in use by process ${process.pid}`);
    } finally {
      await held.close();
    }
  });
});

describe('airlock audit command line', () => {
  it.each([
    [[], /missing subcommand/],
    [['frobnicate'], /unknown subcommand "frobnicate"/],
    [['export'], /--format jsonl is required/],
    [['export', '--format', 'csv'], /--format jsonl is required/],
    [['export', '--format', 'jsonl', '--since', 'yesterday'], /--since must be a seq/],
    [['verify', '--bogus'], /Unknown option '--bogus'/],
  ])('%j exits 2 with usage', async (argv, message) => {
    const { io, err } = captureIo();
    expect(await runAuditCommand(argv, io, { openDb: () => Promise.reject(new Error('must not open')) })).toBe(2);
    expect(err.join('\n')).toMatch(message);
    expect(err.join('\n')).toContain('usage:');
  });

  it('exits 2 naming a file it cannot read', async () => {
    const { io, err } = captureIo();
    expect(await runAuditCommand(['verify', '--file', '/nonexistent/audit.jsonl'], io)).toBe(2);
    expect(err).toEqual(['airlock audit: cannot read /nonexistent/audit.jsonl']);
  });

  it('parses --since as a seq or an ISO time', () => {
    expect(parseSince('42')).toEqual({ seq: 42 });
    expect(parseSince('2026-11-01T00:00:00Z')).toEqual({ ts: new Date('2026-11-01T00:00:00Z') });
    expect(parseSince('2026-11-01')).toEqual({ ts: new Date('2026-11-01T00:00:00Z') });
    expect(() => parseSince('0')).toThrow();
    expect(() => parseSince('-1')).toThrow();
  });
});
