/**
 * The first admin without AIRLOCK_ADMIN_TOKEN: `airlock serve` prints a one-time link when no admin exists, and
 * whoever opens it chooses the admin's name and password. The token travels in the URL fragment (`/setup#token=…`),
 * which browsers never send to a server or put in a Referer, and only its hash is stored.
 */
import { createHash, randomBytes } from 'node:crypto';

import type { Db } from '../db/db.js';
import { AirlockError } from '../errors/airlock-error.js';
import type { Clock } from '../util/clock.js';
import { type ConsoleUser, createUser, hasActiveAdmin } from './users.js';

export const SETUP_TOKEN_TTL_MS = 24 * 60 * 60_000;

/** A new setup link's token, or undefined when an admin already exists (nothing to set up). */
export async function issueSetupToken(db: Db, clock: Clock): Promise<string | undefined> {
  if (await hasActiveAdmin(db)) return undefined;
  const token = randomBytes(24).toString('base64url');
  const now = clock.now();
  await db.query('INSERT INTO console_setup_tokens (token_hash, created_at, expires_at) VALUES ($1, $2::timestamptz, $3::timestamptz)', [
    hashToken(token),
    new Date(now).toISOString(),
    new Date(now + SETUP_TOKEN_TTL_MS).toISOString(),
  ]);
  return token;
}

export function setupUrl(baseUrl: string, token: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/setup#token=${token}`;
}

/** Creates the first admin if the token is live and no admin exists yet; every other live token dies with it. */
export async function redeemSetupToken(
  db: Db,
  clock: Clock,
  token: string,
  admin: { username: string; passwordHash: string; displayName?: string | undefined },
): Promise<ConsoleUser> {
  const now = new Date(clock.now());
  return db.transaction(async (tx) => {
    // Spending every live token at once serializes concurrent redemptions on their row locks: the second one finds
    // nothing left to spend, so two links printed by two instances cannot make two admins.
    const spent = await tx.query<{ token_hash: string }>(
      'UPDATE console_setup_tokens SET used_at = $1::timestamptz WHERE used_at IS NULL AND expires_at > $1::timestamptz RETURNING token_hash',
      [now.toISOString()],
    );
    if (!spent.some((row) => row.token_hash === hashToken(token))) {
      throw new AirlockError('FORBIDDEN', 'This setup link is not valid: it was used already, has expired, or was mistyped. Restart `airlock serve` for a new one.');
    }
    if (await hasActiveAdmin(tx)) throw new AirlockError('CONFLICT', 'An admin exists already: sign in instead');
    return createUser(tx, { ...admin, role: 'admin' }, now);
  });
}

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
