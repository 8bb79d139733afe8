import { readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';

import {
  borrowDb,
  createTestDatabase,
  TEST_DATABASE_URL,
  TEST_DIALECTS,
  type TestDatabase,
} from '../../../test/contract/test-databases.js';
import { openPgliteDb } from '../db/pglite-db.js';
import { runMigrateCommand } from './migrate-command.js';

const MIGRATIONS = readdirSync(new URL('../../../migrations/', import.meta.url)).filter((f) => f.endsWith('.sql')).sort();

function captureIo() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: (text: string) => out.push(text), stderr: (text: string) => err.push(text) }, out, err };
}

/** The environment that points the command's own createDb() at this test database. */
function stubEnvFor(database: TestDatabase): void {
  if (database.dialect === 'pglite') {
    vi.stubEnv('DATABASE_URL', '');
    vi.stubEnv('AIRLOCK_DATA_DIR', database.location);
  } else {
    const url = new URL(TEST_DATABASE_URL);
    url.searchParams.set('options', `-c search_path=${database.location}`);
    vi.stubEnv('DATABASE_URL', url.toString());
  }
}

for (const dialect of TEST_DIALECTS) {
  describe(`airlock migrate on ${dialect}`, () => {
    let database: TestDatabase | undefined;
    afterEach(async () => {
      vi.unstubAllEnvs();
      await database?.destroy();
      database = undefined;
    });

    it('migrates the database named by the environment, then reports it up to date', async () => {
      database = await createTestDatabase(dialect, { migrated: false });
      // The command opens the database itself; PGlite allows one handle, so the test lets go of its own.
      if (dialect === 'pglite') await database.db.close();
      stubEnvFor(database);

      const first = captureIo();
      expect(await runMigrateCommand([], first.io)).toBe(0);
      expect(first.out).toEqual([...MIGRATIONS.map((name) => `applied      ${name}`), `applied ${MIGRATIONS.length} migrations`]);

      const second = captureIo();
      expect(await runMigrateCommand([], second.io)).toBe(0);
      expect(second.out).toEqual([...MIGRATIONS.map((name) => `unchanged    ${name}`), 'database is up to date']);
      expect(second.err).toEqual([]);
    });

    it('exits 1 and says why when a migration fails', async () => {
      database = await createTestDatabase(dialect, { migrated: false });
      const dir = await mkdtemp(join(tmpdir(), 'airlock-migrate-cli-'));
      await writeFile(join(dir, '0001_broken.sql'), 'CREATE TABLE broken (;');
      let closed = 0;
      const { io, out, err } = captureIo();
      const code = await runMigrateCommand([], io, {
        openDb: async () => borrowDb(database!.db, () => (closed += 1)),
        migrationsDir: dir,
      });
      expect(code).toBe(1);
      expect(out[0]).toMatch(/^error {8}0001_broken\.sql: Migration 0001_broken\.sql failed: /);
      expect(err[0]).toMatch(/^airlock migrate: Migration 0001_broken\.sql failed/);
      expect(closed).toBe(1);
      await rm(dir, { recursive: true });
    });
  });
}

describe('airlock migrate', () => {
  it('migrates the database of --config, as serve would open it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'airlock-migrate-config-'));
    try {
      const config = join(dir, 'airlock.config.json');
      await writeFile(config, JSON.stringify({ servers: {}, database: { dataDir: join(dir, 'data') } }));
      vi.stubEnv('DATABASE_URL', '');
      vi.stubEnv('AIRLOCK_DATA_DIR', '');
      const { io, out } = captureIo();
      expect(await runMigrateCommand(['--config', config], io)).toBe(0);
      expect(out.at(-1)).toBe(`applied ${MIGRATIONS.length} migrations`);
      const db = await openPgliteDb(join(dir, 'data'));
      const applied = await db.query('SELECT 1 FROM audit_events').finally(() => db.close());
      expect(applied).toEqual([]);
    } finally {
      vi.unstubAllEnvs();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('exits 2 with a clear message when the database is unreachable', async () => {
    vi.stubEnv('DATABASE_URL', 'postgres://airlock:secret@127.0.0.1:1/airlock');
    const { io, err } = captureIo();
    expect(await runMigrateCommand([], io)).toBe(2);
    expect(err).toEqual([expect.stringMatching(/^airlock migrate: PostgreSQL at 127\.0\.0\.1:1\/airlock is unavailable: /)]);
    vi.unstubAllEnvs();
  });

  it('prints usage for --help, and exits 2 on unknown arguments', async () => {
    const help = captureIo();
    expect(await runMigrateCommand(['--help'], help.io)).toBe(0);
    expect(help.out[0]).toMatch(/^usage: airlock migrate/);
    const wrong = captureIo();
    expect(await runMigrateCommand(['--force'], wrong.io)).toBe(2);
    expect(wrong.err[0]).toMatch(/Unknown option '--force'/);
  });
});
