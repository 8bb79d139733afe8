import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { describeDbContract } from '../../../test/contract/db.contract.js';
import { createTestDatabase } from '../../../test/contract/test-databases.js';
import { LOCK_FILE_NAME } from './data-dir-lock.js';
import { openPgliteDb } from './pglite-db.js';

describeDbContract('PgliteDb', () => createTestDatabase('pglite', { migrated: false }));

describe('openPgliteDb', () => {
  it('holds the data-dir lock while open, skips zero-filling WAL segments, keeps data across reopening, and frees the lock on close', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'airlock-pglite-'));
    try {
      const first = await openPgliteDb(dir);
      expect(JSON.parse(await readFile(join(dir, LOCK_FILE_NAME), 'utf8'))).toMatchObject({ pid: process.pid });
      expect(await first.query('SHOW wal_init_zero')).toEqual([{ wal_init_zero: 'off' }]);
      await expect(openPgliteDb(dir)).rejects.toThrow(`in use by process ${process.pid}`);
      await first.exec('CREATE TABLE kept (n int); INSERT INTO kept VALUES (1)');
      await first.close();
      await expect(readFile(join(dir, LOCK_FILE_NAME))).rejects.toMatchObject({ code: 'ENOENT' });

      const again = await openPgliteDb(dir);
      expect(await again.query('SELECT n FROM kept')).toEqual([{ n: 1 }]);
      await again.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
