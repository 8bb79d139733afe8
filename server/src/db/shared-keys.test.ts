import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createTestDatabase, TEST_DIALECTS, type TestDatabase } from '../../../test/contract/test-databases.js';
import { sharedKey } from './shared-keys.js';

describe.each(TEST_DIALECTS)('sharedKey on %s', (dialect) => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase(dialect);
  });
  afterAll(async () => {
    await database?.destroy();
  });

  it('makes a random 32-byte key once and gives the same one back every time after', async () => {
    const key = await sharedKey(database.db, 'held-state');
    expect(key).toBeInstanceOf(Buffer);
    expect(key).toHaveLength(32);
    expect((await sharedKey(database.db, 'held-state')).equals(key)).toBe(true);
    const other = await sharedKey(database.db, 'another');
    expect(other.equals(key)).toBe(false);
  });

  it('gives racing callers, on separate connections where there are some, one and the same key', async () => {
    const second = dialect === 'postgres' ? await database.connectAgain() : database.db;
    const keys = await Promise.all(Array.from({ length: 8 }, (_, i) => sharedKey(i % 2 === 0 ? database.db : second, 'raced')));
    expect(new Set(keys.map((key) => key.toString('hex'))).size).toBe(1);
  });
});
