/**
 * Console sessions in `console_sessions`. The browser holds a random token in an HttpOnly cookie; the table keeps
 * only its SHA-256, so a leaked database does not sign anyone in. Each session has its own CSRF token, which the
 * page reads from `GET /api/session` and sends back as `X-CSRF-Token` on every state change (api-auth.ts checks it).
 *
 * A session ends after SESSION_IDLE_MS without use or SESSION_MAX_MS after sign-in, whichever comes first, and at
 * once when its user is disabled.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

import type { SessionResolver } from '../api/api-auth.js';
import type { Actor } from '../approval/approval.js';
import type { Db } from '../db/db.js';
import type { Clock } from '../util/clock.js';
import { readCookie, SESSION_COOKIE } from './cookies.js';
import type { Role } from './roles.js';

export const SESSION_IDLE_MS = 12 * 60 * 60_000;
export const SESSION_MAX_MS = 7 * 24 * 60 * 60_000;
/** last_seen_at is written at most this often, so a busy console does not write on every request. */
const TOUCH_EVERY_MS = 60_000;

export interface ConsoleSession {
  user: { id: string; username: string; displayName: string | null; role: Role };
  actor: Actor;
  csrfToken: string;
}

interface SessionRow {
  user_id: string;
  username: string;
  display_name: string | null;
  role: Role;
  csrf_token: string;
  created_at: Date;
  last_seen_at: Date | null;
}

export class SessionStore {
  readonly #db: Db;
  readonly #clock: Clock;

  constructor(db: Db, clock: Clock) {
    this.#db = db;
    this.#clock = clock;
  }

  /** Opens a session for a user; also sweeps expired ones, which nothing else would delete. */
  async create(userId: string): Promise<{ token: string; csrfToken: string }> {
    const now = this.#clock.now();
    const token = randomBytes(32).toString('base64url');
    const csrfToken = randomBytes(32).toString('base64url');
    const expiresAt = new Date(now + SESSION_IDLE_MS);
    await this.#db.query('DELETE FROM console_sessions WHERE expires_at <= $1::timestamptz', [new Date(now).toISOString()]);
    await this.#db.query(
      `INSERT INTO console_sessions (token_hash, user_id, csrf_token, created_at, expires_at, last_seen_at)
       VALUES ($1, $2, $3, $4::timestamptz, $5::timestamptz, $4::timestamptz)`,
      [hashToken(token), userId, csrfToken, new Date(now).toISOString(), expiresAt.toISOString()],
    );
    return { token, csrfToken };
  }

  /** The live session for a cookie token, extended by its use. */
  async find(token: string): Promise<ConsoleSession | undefined> {
    const now = this.#clock.now();
    const row = await this.#live(token, now);
    if (!row) return undefined;
    if (now - (row.last_seen_at?.getTime() ?? 0) >= TOUCH_EVERY_MS) {
      const expiresAt = new Date(Math.min(now + SESSION_IDLE_MS, row.created_at.getTime() + SESSION_MAX_MS));
      await this.#db.query('UPDATE console_sessions SET last_seen_at = $2::timestamptz, expires_at = $3::timestamptz WHERE token_hash = $1', [
        hashToken(token),
        new Date(now).toISOString(),
        expiresAt.toISOString(),
      ]);
    }
    return {
      user: { id: row.user_id, username: row.username, displayName: row.display_name, role: row.role },
      actor: { id: `web:${row.username}`, via: 'web' },
      csrfToken: row.csrf_token,
    };
  }

  /**
   * Whether the session still holds, without counting the question as use: an open websocket asks it on a timer,
   * and a page merely left open must not keep its session alive past the idle limit.
   */
  async isLive(token: string): Promise<boolean> {
    return (await this.#live(token, this.#clock.now())) !== undefined;
  }

  async #live(token: string, now: number): Promise<SessionRow | undefined> {
    const [row] = await this.#db.query<SessionRow>(
      `SELECT s.user_id, u.username, u.display_name, u.role, s.csrf_token, s.created_at, s.last_seen_at
       FROM console_sessions s JOIN console_users u ON u.id = s.user_id
       WHERE s.token_hash = $1 AND s.expires_at > $2::timestamptz AND u.disabled_at IS NULL`,
      [hashToken(token), new Date(now).toISOString()],
    );
    return row;
  }

  async revoke(token: string): Promise<void> {
    await this.#db.query('DELETE FROM console_sessions WHERE token_hash = $1', [hashToken(token)]);
  }
}

/**
 * The SessionResolver the API's auth uses, plus the full session (with the role) for the console's own routes.
 * Memoised per request: the console's role check and the API's auth middleware both ask for the same request.
 */
export class CookieSessions implements SessionResolver {
  readonly #store: SessionStore;
  readonly #seen = new WeakMap<IncomingMessage, Promise<ConsoleSession | undefined>>();

  constructor(store: SessionStore) {
    this.#store = store;
  }

  session(req: IncomingMessage): Promise<ConsoleSession | undefined> {
    let found = this.#seen.get(req);
    if (!found) {
      const token = readCookie(req, SESSION_COOKIE);
      found = token ? this.#store.find(token) : Promise.resolve(undefined);
      this.#seen.set(req, found);
    }
    return found;
  }

  async resolve(req: IncomingMessage): Promise<{ actor: Actor; csrfToken: string } | undefined> {
    const session = await this.session(req);
    return session && { actor: session.actor, csrfToken: session.csrfToken };
  }

  /** Asks the store afresh each time (no memo): the answer changes while a websocket stays open. */
  async stillLive(req: IncomingMessage): Promise<boolean> {
    const token = readCookie(req, SESSION_COOKIE);
    return token !== undefined && (await this.#store.isLive(token));
  }
}

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
