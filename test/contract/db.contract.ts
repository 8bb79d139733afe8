/**
 * The `Db` contract (server/src/db/db.ts), run against every implementation: `describeDbContract(name, open)`
 * is called from pglite-db.test.ts and postgres-db.test.ts (hono's runTest). It also pins the SQL features the
 * audit log and the migration runner rely on, so a driver upgrade that breaks them fails here first.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { AirlockError } from '../../server/src/errors/airlock-error.js';
import type { Db } from '../../server/src/db/db.js';
import type { TestDatabase } from './test-databases.js';

export function describeDbContract(name: string, open: () => Promise<TestDatabase>): void {
  describe(`${name} (Db contract)`, () => {
    let database: TestDatabase;
    let db: Db;
    let tableCount = 0;
    /** A fresh table per test, so tests share one database without sharing rows. */
    const table = async () => {
      tableCount += 1;
      const t = `contract_${tableCount}`;
      await db.exec(`CREATE TABLE ${t} (id bigint PRIMARY KEY, note text, doc jsonb, at timestamptz)`);
      return t;
    };

    beforeAll(async () => {
      database = await open();
      db = database.db;
    });
    afterAll(async () => {
      await database?.destroy();
    });

    describe('query', () => {
      it('returns int8 as numbers, timestamptz as Dates and jsonb parsed', async () => {
        const t = await table();
        const at = new Date('2026-11-24T10:00:00.123Z');
        await db.query(`INSERT INTO ${t} VALUES ($1, $2, $3::jsonb, $4::timestamptz)`, [
          7,
          'seven',
          JSON.stringify({ a: [1, 'x', null], b: { c: true } }),
          at.toISOString(),
        ]);
        const rows = await db.query<{ id: number; note: string; doc: unknown; at: Date; n: number }>(
          `SELECT id, note, doc, at, count(*) OVER () AS n FROM ${t}`,
        );
        expect(rows).toEqual([{ id: 7, note: 'seven', doc: { a: [1, 'x', null], b: { c: true } }, at, n: 1 }]);
      });

      it('accepts a text[] parameter', async () => {
        const rows = await db.query<{ hit: boolean }>(`SELECT 'b' = ANY($1::text[]) AS hit`, [['a', 'b']]);
        expect(rows).toEqual([{ hit: true }]);
      });

      it('rejects a failing statement with the driver error and its SQLSTATE, not a storage error', async () => {
        const t = await table();
        await db.query(`INSERT INTO ${t} (id) VALUES (1)`);
        const error = await db.query(`INSERT INTO ${t} (id) VALUES (1)`).catch((e: unknown) => e);
        expect(error).not.toBeInstanceOf(AirlockError);
        expect((error as { code?: string }).code).toBe('23505');
      });
    });

    describe('exec', () => {
      it('runs a script of several statements, dollar-quoted bodies included', async () => {
        await db.exec(`
          CREATE TABLE contract_script (n int);
          CREATE FUNCTION contract_twice(x int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN x * 2; END $$;
          INSERT INTO contract_script VALUES (contract_twice(21));`);
        expect(await db.query('SELECT n FROM contract_script')).toEqual([{ n: 42 }]);
      });
    });

    describe('transaction', () => {
      it('commits what the callback wrote and returns its value', async () => {
        const t = await table();
        const value = await db.transaction(async (tx) => {
          await tx.query(`INSERT INTO ${t} (id) VALUES (1), (2)`);
          return 'done';
        });
        expect(value).toBe('done');
        expect(await db.query(`SELECT id FROM ${t} ORDER BY id`)).toEqual([{ id: 1 }, { id: 2 }]);
      });

      it('rolls back and rethrows the very error the callback threw', async () => {
        const t = await table();
        const thrown = new Error('changed my mind');
        const caught = await db
          .transaction(async (tx) => {
            await tx.query(`INSERT INTO ${t} (id) VALUES (1)`);
            throw thrown;
          })
          .catch((e: unknown) => e);
        expect(caught).toBe(thrown);
        expect(await db.query(`SELECT id FROM ${t}`)).toEqual([]);
      });

      it('nests through a savepoint: an inner failure keeps the outer work', async () => {
        const t = await table();
        await db.transaction(async (tx) => {
          await tx.query(`INSERT INTO ${t} (id) VALUES (1)`);
          await expect(
            tx.transaction(async (inner) => {
              await inner.query(`INSERT INTO ${t} (id) VALUES (2)`);
              await inner.query(`INSERT INTO ${t} (id) VALUES (2)`);
            }),
          ).rejects.toMatchObject({ code: '23505' });
          await tx.query(`INSERT INTO ${t} (id) VALUES (3)`);
        });
        expect(await db.query(`SELECT id FROM ${t} ORDER BY id`)).toEqual([{ id: 1 }, { id: 3 }]);
      });

      it('refuses a tx handle used after its transaction ended, and closing a tx', async () => {
        let stale: Db | undefined;
        await db.transaction(async (tx) => {
          stale = tx;
          await expect(tx.close()).rejects.toBeInstanceOf(AirlockError);
        });
        await expect(stale!.query('SELECT 1')).rejects.toThrow(/already ended/);
      });

      it('serializes read-modify-write under SELECT … FOR UPDATE', async () => {
        const t = await table();
        await db.query(`INSERT INTO ${t} (id, note) VALUES (1, '0')`);
        await Promise.all(
          Array.from({ length: 20 }, () =>
            db.transaction(async (tx) => {
              const [row] = await tx.query<{ note: string }>(`SELECT note FROM ${t} WHERE id = 1 FOR UPDATE`);
              await tx.query(`UPDATE ${t} SET note = $1 WHERE id = 1`, [String(Number(row!.note) + 1)]);
            }),
          ),
        );
        expect(await db.query(`SELECT note FROM ${t}`)).toEqual([{ note: '20' }]);
      });

      it('supports transaction-scoped advisory locks', async () => {
        await db.transaction(async (tx) => {
          await tx.query('SELECT pg_advisory_xact_lock(42)');
        });
      });
    });

    describe('close', () => {
      it('makes later use fail with STORAGE_UNAVAILABLE', async () => {
        const other = database.dialect === 'postgres' ? await database.connectAgain() : undefined;
        // PGlite has one handle per directory, so that one is closed last, in this very test.
        const victim = other ?? db;
        await victim.close();
        const error = await victim.query('SELECT 1').catch((e: unknown) => e);
        expect(error).toBeInstanceOf(AirlockError);
        expect((error as AirlockError).code).toBe('STORAGE_UNAVAILABLE');
      });
    });
  });
}
