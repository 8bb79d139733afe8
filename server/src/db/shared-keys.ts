/** Random keys the gateway instances on one database share (migration 0006), each made by the first that asks. */
import { randomBytes } from 'node:crypto';

import { AirlockError } from '../errors/airlock-error.js';
import type { Db } from './db.js';

export async function sharedKey(db: Db, name: string): Promise<Buffer> {
  // Racing instances each offer a key; the first insert wins and every one of them reads that one back.
  await db.query('INSERT INTO shared_keys (name, key) VALUES ($1, $2::bytea) ON CONFLICT (name) DO NOTHING', [name, randomBytes(32)]);
  const [row] = await db.query<{ key: Uint8Array }>('SELECT key FROM shared_keys WHERE name = $1', [name]);
  if (!row) throw new AirlockError('STORAGE_UNAVAILABLE', `shared key "${name}" vanished after it was stored`);
  return Buffer.from(row.key);
}
