import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

import { TEST_DATABASE_URL } from '../../../test/contract/test-databases.js';
import { AirlockError } from '../errors/airlock-error.js';
import { createDb, resolveStorageTarget } from './create-db.js';

describe('resolveStorageTarget', () => {
  it.each([
    ['nothing set: ./.airlock', {}, {}, { kind: 'pglite', dataDir: resolve('.airlock') }],
    ['AIRLOCK_DATA_DIR', {}, { AIRLOCK_DATA_DIR: '/var/lib/airlock' }, { kind: 'pglite', dataDir: '/var/lib/airlock' }],
    ['config dataDir', { dataDir: 'data' }, {}, { kind: 'pglite', dataDir: resolve('data') }],
    ['env dir beats config dir', { dataDir: 'data' }, { AIRLOCK_DATA_DIR: '/x' }, { kind: 'pglite', dataDir: '/x' }],
    ['DATABASE_URL', {}, { DATABASE_URL: 'postgres://h/db' }, { kind: 'postgres', connectionString: 'postgres://h/db' }],
    ['config URL', { url: 'postgres://c/db' }, {}, { kind: 'postgres', connectionString: 'postgres://c/db' }],
    [
      'env URL beats config URL and any dir',
      { url: 'postgres://c/db', dataDir: 'data' },
      { DATABASE_URL: 'postgres://e/db', AIRLOCK_DATA_DIR: '/x' },
      { kind: 'postgres', connectionString: 'postgres://e/db' },
    ],
    ['an empty DATABASE_URL counts as unset', {}, { DATABASE_URL: ' ' }, { kind: 'pglite', dataDir: resolve('.airlock') }],
  ])('%s', (_name, options, env, expected) => {
    expect(resolveStorageTarget({ database: options, env })).toEqual(expected);
  });
});

describe('createDb', () => {
  it('connects to PostgreSQL when DATABASE_URL is set', async () => {
    const db = await createDb({ env: { DATABASE_URL: TEST_DATABASE_URL } });
    expect(db.dialect).toBe('postgres');
    expect(await db.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    await db.close();
  });

  it('fails at once with STORAGE_UNAVAILABLE when PostgreSQL is unreachable', async () => {
    const error = await createDb({ env: { DATABASE_URL: 'postgres://u:secret@127.0.0.1:1/airlock' } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AirlockError);
    expect(error).toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
    expect((error as Error).message).toMatch(/^PostgreSQL at 127\.0\.0\.1:1\/airlock is unavailable: /);
  });
});
