import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { PgliteStatements } from './pglite-statements.js';

describe('PgliteStatements', () => {
  let pglite: PGlite;
  const prepared = async () => (await pglite.query<{ name: string }>('SELECT name FROM pg_prepared_statements ORDER BY name')).rows.map((row) => row.name);

  beforeAll(async () => {
    pglite = await PGlite.create();
    await pglite.exec('CREATE TABLE t (id bigint PRIMARY KEY, at timestamptz, doc jsonb, tags text[], note text)');
  });
  afterAll(() => pglite.close());

  it('returns what PGlite’s query() returns, for the types the gateway uses', async () => {
    const statements = new PgliteStatements(pglite);
    const at = new Date('2026-11-24T10:00:00.123Z');
    await statements.run('INSERT INTO t (id, at, doc, tags, note) VALUES ($1, $2, $3::jsonb, $4, $5)', [1, at, JSON.stringify({ a: [1, 'x'] }), ['a', 'b "c"', 'd\\e'], null], false);
    const sql = 'SELECT id, at, doc, tags, note, count(*) OVER ()::int AS n FROM t WHERE id = $1';
    expect(await statements.run(sql, [1], false)).toEqual((await pglite.query(sql, [1])).rows);
    expect((await statements.run(sql, [1], false))[0]).toEqual({ id: 1, at, doc: { a: [1, 'x'] }, tags: ['a', 'b "c"', 'd\\e'], note: null, n: 1 });
  });

  it('sends bytes in binary format: a text parameter gets their UTF-8 as it is, a bytea one the bytes', async () => {
    const statements = new PgliteStatements(pglite);
    const sql = 'SELECT $1::text AS text, $2::bytea AS bytes';
    const params = [Buffer.from('é☃\nline "2"', 'utf8'), new Uint8Array([0, 10, 255])];
    const [row] = await statements.run(sql, params, false);
    expect(row).toEqual({ text: 'é☃\nline "2"', bytes: new Uint8Array([0, 10, 255]) });
    // A statement beyond the limit runs through PGlite's query(), which must read the same Buffer as the same text.
    expect((await pglite.query(sql, params)).rows).toEqual([row]);
  });

  it('parses and plans a statement once, then only binds and executes it', async () => {
    const statements = new PgliteStatements(pglite);
    const before = await prepared();
    for (let i = 0; i < 3; i += 1) await statements.run('SELECT $1::int + 1 AS n', [i], false);
    expect((await prepared()).length - before.length).toBe(1);
  });

  it('rejects with the SQLSTATE of a failing statement, and the next one runs', async () => {
    const statements = new PgliteStatements(pglite);
    await expect(statements.run('INSERT INTO t (id) VALUES ($1)', [1], false)).rejects.toMatchObject({ code: '23505' });
    await expect(statements.run('SELECT $1::int AS n', [7], false)).resolves.toEqual([{ n: 7 }]);
    await expect(statements.run('SELECT nope FROM t WHERE id = $1', [1], false)).rejects.toMatchObject({ code: '42703' });
    await expect(statements.run('SELECT nope FROM t WHERE id = $1', [1], false)).rejects.toMatchObject({ code: '42703' });
  });

  it('takes statements with parameters only, and no more distinct ones than its limit', async () => {
    const statements = new PgliteStatements(pglite, 1);
    expect(statements.takes('SELECT 1', [])).toBe(false);
    expect(statements.takes('SELECT 1', undefined)).toBe(false);
    expect(statements.takes('SELECT $1::int', [1])).toBe(true);
    await statements.run('SELECT $1::int', [1], false);
    expect(statements.takes('SELECT $1::int', [2])).toBe(true);
    expect(statements.takes('SELECT $1::text', ['x'])).toBe(false);
  });

  it('prepares a statement afresh when the table it reads gained a column', async () => {
    const statements = new PgliteStatements(pglite);
    await pglite.exec('CREATE TABLE u (id int PRIMARY KEY)');
    await pglite.query('INSERT INTO u VALUES (1)');
    const sql = 'SELECT u.* FROM u WHERE id = $1';
    expect(await statements.run(sql, [1], false)).toEqual([{ id: 1 }]);
    await pglite.exec("ALTER TABLE u ADD COLUMN note text DEFAULT 'new'");
    expect(await statements.run(sql, [1], false)).toEqual([{ id: 1, note: 'new' }]);

    await pglite.exec('ALTER TABLE u ADD COLUMN more int DEFAULT 2');
    await pglite.exec('BEGIN');
    await expect(statements.run(sql, [1], true)).rejects.toMatchObject({ code: '0A000' });
    await pglite.exec('ROLLBACK');
    expect(await statements.run(sql, [1], false)).toEqual([{ id: 1, note: 'new', more: 2 }]);
  });
});
