/**
 * Who is calling `/api/*` and the websocket (DESIGN.md §6). Two ways in: `Authorization: Bearer
 * <AIRLOCK_ADMIN_TOKEN>` for automation, acting as the built-in console user `admin`; or a console session cookie,
 * which the console's sign-in (issue 6) resolves through the injected SessionResolver. Owns the CSRF rule for
 * cookie sessions; does not own sessions, sign-in or roles.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

import type { RequestHandler, Response } from 'express';

import type { Actor } from '../approval/approval.js';
import { sendApiError } from './api-errors.js';

/** The console session behind a request's cookie, if any. Implemented by the console's sign-in (issue 6). */
export interface SessionResolver {
  resolve(req: IncomingMessage): Promise<{ actor: Actor; csrfToken: string } | undefined>;
  /** Whether the session `req` was admitted with still holds (signed out, expired, user disabled: false), afresh. */
  stillLive(req: IncomingMessage): Promise<boolean>;
}

/** Bearer-token callers act as the console's built-in `admin` user, so approver lists can name `web:admin`. */
export const ADMIN_ACTOR: Actor = Object.freeze({ id: 'web:admin', via: 'api' });

const CSRF_HEADER = 'x-csrf-token';

export interface ApiAuthOptions {
  /** AIRLOCK_ADMIN_TOKEN; unset or empty turns bearer access off. */
  adminToken?: string | undefined;
  sessions?: SessionResolver | undefined;
}

export type Authentication =
  | { ok: true; actor: Actor; method: 'token' }
  | { ok: true; actor: Actor; method: 'session'; csrfToken: string }
  | { ok: false; message: string };

export interface ApiAuth {
  /**
   * Authenticates a request or websocket upgrade. `bearer` is a token that arrived outside the Authorization
   * header (browsers cannot set headers on a websocket). Rejects only when the session resolver does.
   */
  authenticate(req: IncomingMessage, bearer?: string): Promise<Authentication>;
  /**
   * Whether a websocket admitted as `admitted` may stay open: a cookie session ends by sign-out, expiry or its
   * user being disabled, and the socket with it. The admin token cannot be revoked short of a restart.
   */
  stillAuthenticated(req: IncomingMessage, admitted: Authentication & { ok: true }): Promise<boolean>;
  /** Express middleware for `/api/*`: 401 without auth, 403 for a cookie session's state change without CSRF token. */
  readonly middleware: RequestHandler;
}

const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export function createApiAuth(options: ApiAuthOptions): ApiAuth {
  const adminToken = options.adminToken || undefined;
  const sessions = options.sessions;
  const fail = (message: string): Authentication => ({ ok: false, message });

  const authenticate = async (req: IncomingMessage, bearer?: string): Promise<Authentication> => {
    if (adminToken === undefined && !sessions) {
      return fail('The API is not configured: set AIRLOCK_ADMIN_TOKEN and send "Authorization: Bearer <token>"');
    }
    const header = req.headers.authorization;
    // Explicit credentials are judged alone: a wrong token never falls back to a cookie.
    if (header !== undefined || bearer !== undefined) {
      const token = header !== undefined ? /^Bearer +(\S+) *$/i.exec(header)?.[1] : bearer;
      if (token === undefined) return fail('Unsupported Authorization header: send "Authorization: Bearer <AIRLOCK_ADMIN_TOKEN>"');
      if (adminToken === undefined) return fail('Bearer tokens are not accepted: no admin token is configured (set AIRLOCK_ADMIN_TOKEN), sign in to the console instead');
      if (!sameSecret(token, adminToken)) return fail('Wrong admin token');
      return { ok: true, actor: ADMIN_ACTOR, method: 'token' };
    }
    const session = await sessions?.resolve(req);
    if (session) return { ok: true, actor: session.actor, method: 'session', csrfToken: session.csrfToken };
    return fail(sessions ? 'Sign in to the console, or send "Authorization: Bearer <AIRLOCK_ADMIN_TOKEN>"' : 'Send "Authorization: Bearer <AIRLOCK_ADMIN_TOKEN>"');
  };

  const middleware: RequestHandler = async (req, res, next) => {
    // Approvals carry call arguments: no shared cache may keep them.
    res.setHeader('Cache-Control', 'no-store');
    const auth = await authenticate(req);
    if (!auth.ok) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="airlock"');
      sendApiError(res, 401, 'UNAUTHORIZED', auth.message);
      return;
    }
    // A browser attaches cookies to cross-site requests on its own, never a custom header: the header proves the
    // request came from our page. Bearer callers need no such proof.
    if (auth.method === 'session' && UNSAFE_METHODS.has(req.method) && !sameSecret(req.get(CSRF_HEADER), auth.csrfToken)) {
      const problem = req.get(CSRF_HEADER) === undefined ? 'missing' : 'wrong';
      sendApiError(res, 403, 'FORBIDDEN', `CSRF check failed: the X-CSRF-Token header is ${problem}; reload the console and try again`);
      return;
    }
    res.locals.actor = auth.actor;
    next();
  };

  const stillAuthenticated = async (req: IncomingMessage, admitted: Authentication & { ok: true }): Promise<boolean> =>
    admitted.method === 'token' || (sessions !== undefined && (await sessions.stillLive(req)));

  return { authenticate, stillAuthenticated, middleware };
}

/** The actor the auth middleware established for this request. */
export function requestActor(res: Response): Actor {
  const actor = res.locals.actor as Actor | undefined;
  if (!actor) throw new Error('requestActor: the api auth middleware did not run for this route');
  return actor;
}

/**
 * Constant-time comparison; hashing first makes the lengths equal, as timingSafeEqual requires. An empty secret
 * never matches, so a resolver bug cannot turn an empty header into a pass.
 */
function sameSecret(given: string | undefined, expected: string): boolean {
  return given !== undefined && expected !== '' && timingSafeEqual(digest(given), digest(expected));
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
