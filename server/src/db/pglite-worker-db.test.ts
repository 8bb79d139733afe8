import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { describeDbContract } from '../../../test/contract/db.contract.js';
import { createTestDatabase } from '../../../test/contract/test-databases.js';
import { AirlockError } from '../errors/airlock-error.js';
import { acquireDataDirLock, LOCK_FILE_NAME } from './data-dir-lock.js';
import { openPgliteWorkerDb, PgliteWorkerDb, startPgliteWorker } from './pglite-worker-db.js';

describeDbContract('PgliteWorkerDb', () => createTestDatabase('pglite', { migrated: false }));

describe('PgliteWorkerDb', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'airlock-pglite-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('holds the data-dir lock while open, keeps data across reopening, and frees the lock on close', async () => {
    const first = await openPgliteWorkerDb(dir);
    expect(JSON.parse(await readFile(join(dir, LOCK_FILE_NAME), 'utf8'))).toMatchObject({ pid: process.pid });
    await expect(openPgliteWorkerDb(dir)).rejects.toThrow(`in use by process ${process.pid}`);
    await first.exec('CREATE TABLE kept (n int); INSERT INTO kept VALUES (1)');
    await first.close();
    await expect(readFile(join(dir, LOCK_FILE_NAME))).rejects.toMatchObject({ code: 'ENOENT' });

    const again = await openPgliteWorkerDb(dir);
    expect(await again.query('SELECT n FROM kept')).toEqual([{ n: 1 }]);
    await again.close();
  });

  it('returns rows as PGlite builds them: bytea as bytes, arrays, numeric as text', async () => {
    const db = await openPgliteWorkerDb(dir);
    try {
      expect(await db.query(`SELECT '\\x0102'::bytea AS b, ARRAY[1, 2]::int8[] AS a, 1.5::numeric AS n, NULL::text AS z`)).toEqual([
        { b: new Uint8Array([1, 2]), a: [1, 2], n: '1.5', z: null },
      ]);
    } finally {
      await db.close();
    }
  });

  it("keeps the driver error's message and fields across the thread boundary", async () => {
    const db = await openPgliteWorkerDb(dir);
    try {
      await db.exec('CREATE TABLE t (id int CONSTRAINT t_pk PRIMARY KEY); INSERT INTO t VALUES (1)');
      const error = await db.query('INSERT INTO t VALUES ($1)', [1]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
      expect(error).toMatchObject({
        message: 'duplicate key value violates unique constraint "t_pk"',
        code: '23505',
        severity: 'ERROR',
        detail: 'Key (id)=(1) already exists.',
        table: 't',
        constraint: 't_pk',
      });
    } finally {
      await db.close();
    }
  });

  it('makes a statement outside an open transaction wait for it to end', async () => {
    const db = await openPgliteWorkerDb(dir);
    try {
      await db.exec('CREATE TABLE t (n int)');
      let outside: Promise<unknown> | undefined;
      await db.transaction(async (tx) => {
        await tx.query('INSERT INTO t VALUES (1)');
        outside = db.query<{ n: number }>('SELECT count(*)::int AS n FROM t');
        await new Promise((resolve) => setTimeout(resolve, 50));
        await tx.query('INSERT INTO t VALUES (2)');
      });
      expect(await outside).toEqual([{ n: 2 }]);
    } finally {
      await db.close();
    }
  });

  describe('when closed while a transaction is open', () => {
    it('lets the transaction finish and commit, refuses new work, then closes', async () => {
      const db = await openPgliteWorkerDb(dir);
      await db.exec('CREATE TABLE t (n int)');
      let closed: Promise<void> | undefined;
      await db.transaction(async (tx) => {
        await tx.query('INSERT INTO t VALUES (1)');
        closed = db.close();
        await expect(db.query('SELECT 1')).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
        await tx.query('INSERT INTO t VALUES (2)');
      });
      await closed;

      const again = await openPgliteWorkerDb(dir);
      expect(await again.query('SELECT n FROM t ORDER BY n')).toEqual([{ n: 1 }, { n: 2 }]);
      await again.close();
    });
  });

  describe('when the worker thread stops', () => {
    it('rejects the pending and every later call with STORAGE_UNAVAILABLE naming the database, and close still frees the lock', async () => {
      const lock = await acquireDataDirLock(dir);
      const worker = await startPgliteWorker(join(dir, 'pgdata'));
      const db = new PgliteWorkerDb(worker, lock, `Embedded database in ${dir}`);
      const pending = db.query('SELECT count(*) FROM generate_series(1, 100000000)').catch((e: unknown) => e);
      await new Promise((resolve) => setTimeout(resolve, 50));
      await worker.terminate();

      for (const error of [await pending, await db.query('SELECT 1').catch((e: unknown) => e)]) {
        expect(error).toBeInstanceOf(AirlockError);
        expect(error).toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
        expect((error as Error).message).toMatch(new RegExp(`^Embedded database in ${dir} is unavailable: its worker thread exited`));
      }
      await db.close();
      await expect(readFile(join(dir, LOCK_FILE_NAME))).rejects.toMatchObject({ code: 'ENOENT' });
    });
  });

  it('keeps a process alive while a call is pending, and lets it exit when idle without close()', async () => {
    const module = fileURLToPath(new URL('./pglite-worker-db.ts', import.meta.url));
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        `import { openPgliteWorkerDb } from ${JSON.stringify(module)};
         const db = await openPgliteWorkerDb(${JSON.stringify(dir)});
         console.log(JSON.stringify(await db.query('SELECT 1 AS one')));`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    expect({ code, stdout }).toEqual({ code: 0, stdout: '[{"one":1}]\n' });
  });
});
