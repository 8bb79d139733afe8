/**
 * Console users in `console_users`: who may sign in, with which role. A policy names a user as `web:<username>`,
 * so usernames are kept to a small, unambiguous alphabet. Owns the SQL; hashing is passwords.ts's.
 */
import { randomUUID } from 'node:crypto';

import type { Db } from '../db/db.js';
import { sqlState } from '../db/storage-error.js';
import { AirlockError } from '../errors/airlock-error.js';
import type { Role } from './roles.js';

const USERNAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,62}$/;
/** The user AIRLOCK_ADMIN_TOKEN signs in as, the same `web:admin` that bearer-token API calls act as. */
export const TOKEN_ADMIN_USERNAME = 'admin';

export interface ConsoleUser {
  id: string;
  username: string;
  displayName: string | null;
  role: Role;
  createdAt: Date;
  disabledAt: Date | null;
}

interface UserRow {
  id: string;
  username: string;
  display_name: string | null;
  role: Role;
  created_at: Date;
  disabled_at: Date | null;
  password_hash: string | null;
}

const COLUMNS = 'id, username, display_name, role, created_at, disabled_at, password_hash';

export function checkUsername(username: string): string | undefined {
  return USERNAME_PATTERN.test(username)
    ? undefined
    : `"${username}" is not a valid username: use 1–63 lowercase letters, digits, ".", "_" or "-", starting with a letter or digit`;
}

export async function createUser(
  db: Db,
  user: { username: string; role: Role; passwordHash: string | null; displayName?: string | undefined },
  now: Date,
): Promise<ConsoleUser> {
  const problem = checkUsername(user.username);
  if (problem) throw new AirlockError('BAD_REQUEST', problem);
  try {
    const [row] = await db.query<UserRow>(
      `INSERT INTO console_users (id, username, display_name, password_hash, role, created_at)
       VALUES ($1, $2, $3, $4, $5, $6::timestamptz) RETURNING ${COLUMNS}`,
      [randomUUID(), user.username, user.displayName ?? null, user.passwordHash, user.role, now.toISOString()],
    );
    return toUser(row!);
  } catch (error) {
    // 23505: unique violation on username.
    if (sqlState(error) === '23505') throw new AirlockError('CONFLICT', `A console user named "${user.username}" already exists`);
    throw error;
  }
}

/** The user and their password hash, for a sign-in; disabled users are returned too, so the caller can say so. */
export async function findUser(db: Db, username: string): Promise<(ConsoleUser & { passwordHash: string | null }) | undefined> {
  const [row] = await db.query<UserRow>(`SELECT ${COLUMNS} FROM console_users WHERE username = $1`, [username]);
  return row ? { ...toUser(row), passwordHash: row.password_hash } : undefined;
}

export async function listUsers(db: Db): Promise<ConsoleUser[]> {
  const rows = await db.query<UserRow>(`SELECT ${COLUMNS} FROM console_users ORDER BY username`);
  return rows.map(toUser);
}

export async function hasActiveAdmin(db: Db): Promise<boolean> {
  const [row] = await db.query<{ found: boolean }>(
    "SELECT EXISTS (SELECT 1 FROM console_users WHERE role = 'admin' AND disabled_at IS NULL) AS found",
  );
  return row?.found === true;
}

/**
 * The row behind a sign-in with AIRLOCK_ADMIN_TOKEN: sessions reference a user, so `admin` is created on first use
 * (without a password: the token is its password) and is always an admin, since holding the token makes one.
 */
export async function ensureTokenAdmin(db: Db, now: Date): Promise<ConsoleUser> {
  const [row] = await db.query<UserRow>(
    `INSERT INTO console_users (id, username, role, created_at) VALUES ($1, $2, 'admin', $3::timestamptz)
     ON CONFLICT (username) DO UPDATE SET role = 'admin' RETURNING ${COLUMNS}`,
    [randomUUID(), TOKEN_ADMIN_USERNAME, now.toISOString()],
  );
  return toUser(row!);
}

function toUser(row: UserRow): ConsoleUser {
  return {
    id: row.id,
    username: row.username,
    displayName: row.display_name,
    role: row.role,
    createdAt: row.created_at,
    disabledAt: row.disabled_at,
  };
}
