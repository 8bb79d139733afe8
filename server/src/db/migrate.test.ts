import { readdirSync } from 'node:fs';
import { appendFile, mkdtemp, readdir, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { createTestDatabase, TEST_DIALECTS, type TestDatabase } from '../../../test/contract/test-databases.js';
import { defaultMigrationsDir, loadMigrations, migrate } from './migrate.js';

/** The repository's migrations, in order: every one must apply (the list is read, not hard-coded). */
const MIGRATIONS = readdirSync(new URL('../../../migrations/', import.meta.url)).filter((f) => f.endsWith('.sql')).sort();

const TABLES = [
  'approval_decisions',
  'approvals',
  'audit_chain_head',
  'audit_events',
  'console_sessions',
  'console_setup_tokens',
  'console_users',
  'grants',
  'outbox',
  'schema_migrations',
  'shared_keys',
];

async function tablesOf(database: TestDatabase): Promise<string[]> {
  const rows = await database.db.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name`,
  );
  return rows.map((row) => row.table_name);
}

async function tempMigrations(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-migrations-'));
  for (const [name, sql] of Object.entries(files)) await writeFile(join(dir, name), sql);
  return dir;
}

describe('loadMigrations', () => {
  it('reads the repository migrations in order, each with a checksum', async () => {
    const files = await loadMigrations();
    expect(files.map((file) => file.name)).toEqual((await readdir(defaultMigrationsDir())).filter((n) => n.endsWith('.sql')).sort());
    expect(files[0]).toMatchObject({ name: '0001_init.sql', checksum: expect.stringMatching(/^[0-9a-f]{64}$/) });
  });

  it.each([
    ['a file that breaks the naming scheme', { '0001_a.sql': '', '2_b.sql': '' }, /2_b\.sql must be named NNNN_lowercase_name\.sql/],
    ['two files with one number', { '0001_a.sql': '', '0001_b.sql': '' }, /0001_a\.sql and 0001_b\.sql share the number 0001/],
  ])('refuses %s', async (_name, files, message) => {
    const dir = await tempMigrations(files);
    await expect(loadMigrations(dir)).rejects.toThrow(message);
    await rm(dir, { recursive: true });
  });

  it('ignores line-ending differences in checksums', async () => {
    const lf = await tempMigrations({ '0001_a.sql': 'SELECT 1;\nSELECT 2;\n' });
    const crlf = await tempMigrations({ '0001_a.sql': 'SELECT 1;\r\nSELECT 2;\r\n' });
    expect((await loadMigrations(lf))[0]!.checksum).toBe((await loadMigrations(crlf))[0]!.checksum);
    await Promise.all([rm(lf, { recursive: true }), rm(crlf, { recursive: true })]);
  });
});

for (const dialect of TEST_DIALECTS) {
  describe(`migrate on ${dialect}`, () => {
    let database: TestDatabase;
    afterEach(async () => {
      await database?.destroy();
    });

    it('applies every migration to an empty database, then re-running is a no-op', async () => {
      database = await createTestDatabase(dialect, { migrated: false });
      const first = await migrate(database.db);
      expect(first.error).toBeUndefined();
      expect(first.results).toEqual(MIGRATIONS.map((name) => ({ name, status: 'applied' })));
      expect(await tablesOf(database)).toEqual(TABLES);
      expect(await database.db.query('SELECT seq, hash FROM audit_chain_head')).toEqual([{ seq: 0, hash: '0'.repeat(64) }]);

      const second = await migrate(database.db);
      expect(second).toEqual({
        results: MIGRATIONS.map((name) => ({ name, status: 'unchanged' })),
      });
      expect(await database.db.query('SELECT count(*) AS n FROM schema_migrations')).toEqual([{ n: MIGRATIONS.length }]);
    });

    describe('with its own migration files', () => {
      let dir: string;
      beforeEach(async () => {
        database = await createTestDatabase(dialect, { migrated: false });
      });
      afterEach(async () => {
        await rm(dir, { recursive: true, force: true });
      });

      it('refuses to run when an applied file was changed or removed, and applies nothing', async () => {
        dir = await tempMigrations({ '0001_a.sql': 'CREATE TABLE a (n int);', '0002_b.sql': 'CREATE TABLE b (n int);' });
        expect((await migrate(database.db, { dir })).error).toBeUndefined();

        await appendFile(join(dir, '0001_a.sql'), '\nALTER TABLE a ADD COLUMN m int;');
        await writeFile(join(dir, '0003_c.sql'), 'CREATE TABLE c (n int);');
        const changed = await migrate(database.db, { dir });
        expect(changed.error).toMatchObject({ code: 'CONFLICT' });
        expect(changed.results).toEqual([
          { name: '0001_a.sql', status: 'error', message: expect.stringMatching(/^0001_a\.sql was changed after it was applied/) },
          { name: '0002_b.sql', status: 'unchanged' },
          { name: '0003_c.sql', status: 'not_executed' },
        ]);
        expect(await database.db.query(`SELECT to_regclass('c') IS NULL AS absent`)).toEqual([{ absent: true }]);

        await unlink(join(dir, '0001_a.sql'));
        const removed = await migrate(database.db, { dir });
        expect(removed.results[0]).toEqual({
          name: '0001_a.sql',
          status: 'error',
          message: expect.stringContaining('was applied to this database but its file is missing'),
        });
      });

      it('rolls a failing migration back entirely and runs nothing after it', async () => {
        dir = await tempMigrations({
          '0001_a.sql': 'CREATE TABLE a (n int);',
          '0002_broken.sql': 'CREATE TABLE half (n int);\nINSERT INTO no_such_table VALUES (1);',
          '0003_c.sql': 'CREATE TABLE c (n int);',
        });
        const result = await migrate(database.db, { dir });
        expect(result.results).toEqual([
          { name: '0001_a.sql', status: 'applied' },
          { name: '0002_broken.sql', status: 'error', message: expect.stringMatching(/^Migration 0002_broken\.sql failed: .*no_such_table/) },
          { name: '0003_c.sql', status: 'not_executed' },
        ]);
        expect(result.error?.message).toMatch(/0002_broken\.sql/);
        expect(await database.db.query(`SELECT to_regclass('half') IS NULL AS absent`)).toEqual([{ absent: true }]);
        expect(await database.db.query('SELECT name FROM schema_migrations')).toEqual([{ name: '0001_a.sql' }]);
      });
    });
  });
}

for (const dialect of TEST_DIALECTS) {
  describe(`0007_open_binding_unique on ${dialect}`, () => {
    let database: TestDatabase;
    let dir: string;
    afterEach(async () => {
      await database?.destroy();
      await rm(dir, { recursive: true, force: true });
    });

    it('keeps one open approval per binding from before it, the one a call may wait on, and cancels the others saying which', async () => {
      database = await createTestDatabase(dialect, { migrated: false });
      const files = await loadMigrations();
      const migration = files.find((file) => file.name === '0007_open_binding_unique.sql')!;
      dir = await tempMigrations(Object.fromEntries(files.filter((file) => file.name < migration.name).map((file) => [file.name, file.sql])));
      expect((await migrate(database.db, { dir })).error).toBeUndefined();
      // What a retry after a restart left: the abandoned approval, and a second one opened for the identical call.
      const approval = (id: string, binding: string, status: string, minute: number) =>
        database.db.query(
          `INSERT INTO approvals (id, status, binding_hash, server, tool, grant_name, args_redacted, args_hash, policy_version, rule,
                                  approval_spec, requested_at, expires_at, decided_at)
           VALUES ($1, $2, $3, 's', 't', 'g', '{}', 'h', 'v1', '/r', '{}', $4::timestamptz, $4::timestamptz + interval '15 minutes',
                   CASE WHEN $2 = 'pending' THEN NULL ELSE $4::timestamptz END)`,
          [id, status, binding, new Date(Date.UTC(2026, 0, 1, 0, minute)).toISOString()],
        );
      await approval('old-abandoned', 'b1', 'abandoned', 0);
      await approval('retry-pending', 'b1', 'pending', 1);
      await approval('older', 'b2', 'abandoned', 0);
      await approval('newer', 'b2', 'abandoned', 1);
      await approval('alone', 'b3', 'abandoned', 0);

      await writeFile(join(dir, migration.name), migration.sql);
      expect((await migrate(database.db, { dir })).error).toBeUndefined();
      expect(await database.db.query(`SELECT id, status, reason FROM approvals ORDER BY id`)).toEqual([
        { id: 'alone', status: 'abandoned', reason: null },
        { id: 'newer', status: 'abandoned', reason: null },
        { id: 'old-abandoned', status: 'cancelled', reason: 'superseded by approval retry-pending, open for the identical call; decide that one' },
        { id: 'older', status: 'cancelled', reason: 'superseded by approval newer, open for the identical call; decide that one' },
        { id: 'retry-pending', status: 'pending', reason: null },
      ]);
      await expect(approval('second-open', 'b3', 'pending', 2)).rejects.toThrow(/approvals_open_binding/);
    });
  });
}

if (TEST_DIALECTS.includes('postgres')) {
  describe('migrate with concurrent runners on one PostgreSQL', () => {
    let database: TestDatabase;
    beforeAll(async () => {
      database = await createTestDatabase('postgres', { migrated: false });
    });
    afterAll(async () => {
      await database.destroy();
    });

    it('applies each migration exactly once', async () => {
      const other = await database.connectAgain();
      const third = await database.connectAgain();
      const [a, b, c] = await Promise.all([migrate(database.db), migrate(other), migrate(third)]);
      expect(a.error).toBeUndefined();
      expect(b.error).toBeUndefined();
      expect(c.error).toBeUndefined();
      const results = [...a.results, ...b.results, ...c.results];
      for (const name of MIGRATIONS) {
        const statuses = results.filter((result) => result.name === name).map((result) => result.status).sort();
        expect(statuses).toEqual(['applied', 'unchanged', 'unchanged']);
      }
      expect(await database.db.query('SELECT name FROM schema_migrations ORDER BY name')).toEqual(MIGRATIONS.map((name) => ({ name })));
    });
  });
}
