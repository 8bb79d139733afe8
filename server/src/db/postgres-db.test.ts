import { describe, expect, it } from 'vitest';

import { describeDbContract } from '../../../test/contract/db.contract.js';
import { createTestDatabase, TEST_DATABASE_URL } from '../../../test/contract/test-databases.js';
import { startTcpProxyTo } from '../../../test/fixtures/tcp-proxy.js';
import { AirlockError } from '../errors/airlock-error.js';
import { describePostgresTarget, PostgresDb } from './postgres-db.js';

describeDbContract('PostgresDb', () => createTestDatabase('postgres', { migrated: false }));

describe('PostgresDb', () => {
  describe('when the server cannot be reached', () => {
    it('fails with STORAGE_UNAVAILABLE naming the host but not the password', async () => {
      // Port 1 on loopback: nothing listens there, the connection is refused at once.
      const db = new PostgresDb({ connectionString: 'postgres://airlock:hunter2@127.0.0.1:1/airlock' });
      const error = await db.query('SELECT 1').catch((e: unknown) => e);
      await db.close();
      expect(error).toBeInstanceOf(AirlockError);
      expect((error as AirlockError).code).toBe('STORAGE_UNAVAILABLE');
      expect((error as AirlockError).message).toContain('PostgreSQL at 127.0.0.1:1/airlock is unavailable');
      expect((error as AirlockError).message).not.toContain('hunter2');
    });
  });

  describe('when the connection drops during a transaction', () => {
    it('fails that transaction with STORAGE_UNAVAILABLE, throws nothing uncaught, and serves the next once it is back', async () => {
      const proxy = await startTcpProxyTo(TEST_DATABASE_URL);
      const db = new PostgresDb({ connectionString: proxy.url });
      try {
        const failed = db.transaction(async (tx) => {
          await tx.query('SELECT 1');
          // Between two statements the client is checked out of the pool and idle: the drop arrives as an event.
          await proxy.cut();
          await new Promise((resolve) => setImmediate(resolve));
          await tx.query('SELECT 2');
        });
        await expect(failed).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE' });

        await proxy.restore();
        expect(await db.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
      } finally {
        await db.close();
        await proxy.cut();
      }
    });
  });

  it('refuses a schema name that is not a plain identifier', () => {
    expect(() => new PostgresDb({ connectionString: 'postgres://x@127.0.0.1/db', searchPath: 'a; DROP' })).toThrow(
      /Invalid PostgreSQL schema name/,
    );
  });

  it('describes a target without credentials', () => {
    expect(describePostgresTarget('postgres://u:p@db.internal:6543/airlock?sslmode=require')).toBe(
      'PostgreSQL at db.internal:6543/airlock',
    );
  });
});
