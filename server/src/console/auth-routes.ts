/**
 * Signing in and out of the console, under `/api`: `POST /auth/sign-in`, `POST /auth/setup` (the one-time link
 * of the first admin), `POST /auth/sign-out`, and `GET /session` (who is signed in, and the CSRF token the page
 * sends back on state changes). Sign-in and setup are the only routes that answer without a session.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

import express, { type Request, type RequestHandler, type Response, type Router } from 'express';
import { z } from 'zod';

import type { ApiAuth } from '../api/api-auth.js';
import { sendApiError } from '../api/api-errors.js';
import { parseRequest } from '../api/request-validation.js';
import type { Db } from '../db/db.js';
import { AirlockError } from '../errors/airlock-error.js';
import type { Clock } from '../util/clock.js';
import { identify } from './console-auth.js';
import { readCookie, SESSION_COOKIE, sessionCookie } from './cookies.js';
import { decoyHash, hashPassword, MIN_PASSWORD_LENGTH, verifyPassword } from './passwords.js';
import { type CookieSessions, SESSION_MAX_MS, type SessionStore } from './sessions.js';
import { redeemSetupToken } from './setup-link.js';
import { SignInThrottle } from './sign-in-throttle.js';
import { type ConsoleUser, ensureTokenAdmin, findUser, TOKEN_ADMIN_USERNAME } from './users.js';

export interface AuthRoutesOptions {
  db: Db;
  clock: Clock;
  store: SessionStore;
  sessions: CookieSessions;
  auth: ApiAuth;
  /** AIRLOCK_ADMIN_TOKEN: also the password of the console user `admin`. */
  adminToken?: string | undefined;
  /** The console's public URL; an https one makes the cookie Secure even behind a TLS-terminating proxy. */
  consoleUrl?: string | undefined;
}

const SignInSchema = z.strictObject({ username: z.string().min(1).max(100), password: z.string().min(1).max(1000) });
const SetupSchema = z.strictObject({
  token: z.string().min(1).max(200),
  username: z.string().min(1).max(100),
  displayName: z.string().max(200).optional(),
  password: z.string().min(MIN_PASSWORD_LENGTH).max(1000),
});

export function createAuthRoutes(options: AuthRoutesOptions): Router {
  const { db, clock, store, sessions, auth } = options;
  const throttle = new SignInThrottle(clock);
  const router = express.Router();
  const json = express.json({ limit: '16kb' });

  // Behind a TLS-terminating proxy the request itself looks like plain http; an https console URL says otherwise.
  const secure = (req: Request) => req.secure || options.consoleUrl?.startsWith('https:') === true;

  const startSession = async (req: Request, res: Response, user: Pick<ConsoleUser, 'id' | 'username' | 'displayName' | 'role'>) => {
    const session = await store.create(user.id);
    // The cookie lives as long as a session can; the server ends it sooner after SESSION_IDLE_MS without use.
    res.setHeader('Set-Cookie', sessionCookie(session.token, { maxAgeSeconds: SESSION_MAX_MS / 1000, secure: secure(req) }));
    res.setHeader('Cache-Control', 'no-store');
    res.json({ user: { username: user.username, displayName: user.displayName, role: user.role }, csrfToken: session.csrfToken });
  };

  router.post('/auth/sign-in', sameOriginOnly, json, async (req, res) => {
    const { username, password } = parseRequest(SignInSchema, bodyOf(req), 'body');
    const address = req.socket.remoteAddress ?? '';
    const wait = throttle.retryAfterMs(address, username);
    if (wait > 0) {
      res.setHeader('Retry-After', String(Math.ceil(wait / 1000)));
      // The API's error shape, with a code of its own: the API's codes have no "too many".
      res.status(429).json({ error: { code: 'TOO_MANY_ATTEMPTS', message: `Too many failed sign-ins for "${username}": try again in ${Math.ceil(wait / 60_000)} min` } });
      return;
    }
    if (username === TOKEN_ADMIN_USERNAME && options.adminToken && sameSecret(password, options.adminToken)) {
      throttle.succeed(address, username);
      await startSession(req, res, await ensureTokenAdmin(db, new Date(clock.now())));
      return;
    }
    const user = await findUser(db, username);
    // Without a user the decoy is hashed anyway, so the answer takes as long and names no existing account.
    const matches = await verifyPassword(password, user?.passwordHash ?? (await decoyHash()));
    if (!user || !matches) {
      throttle.fail(address, username);
      sendApiError(res, 401, 'UNAUTHORIZED', 'Wrong username or password');
      return;
    }
    if (user.disabledAt) {
      sendApiError(res, 403, 'FORBIDDEN', `The console user "${username}" is disabled`);
      return;
    }
    throttle.succeed(address, username);
    await startSession(req, res, user);
  });

  router.post('/auth/setup', sameOriginOnly, json, async (req, res) => {
    const body = parseRequest(SetupSchema, bodyOf(req), 'body');
    const admin = await redeemSetupToken(db, clock, body.token, {
      username: body.username,
      displayName: body.displayName,
      passwordHash: await hashPassword(body.password),
    });
    await startSession(req, res, admin);
  });

  router.post('/auth/sign-out', auth.middleware, async (req, res) => {
    const token = readCookie(req, SESSION_COOKIE);
    if (token) await store.revoke(token);
    res.setHeader('Set-Cookie', sessionCookie('', { maxAgeSeconds: 0, secure: secure(req) }));
    res.status(204).end();
  });

  router.get('/session', auth.middleware, async (req, res) => {
    const { csrfToken, ...user } = await identify(sessions, req, res);
    res.json({ user, csrfToken });
  });

  return router;
}

/**
 * The sign-in forms take JSON only, which a cross-site form cannot send without a CORS preflight that we never
 * answer; a browser's Origin header, when present, must also name this host. Together they stop a site from
 * signing a visitor in to an account of the attacker's choosing (login CSRF).
 */
const sameOriginOnly: RequestHandler = (req, res, next) => {
  const origin = req.headers.origin;
  if (origin !== undefined && hostOf(origin) !== req.headers.host) {
    sendApiError(res, 403, 'FORBIDDEN', 'Cross-origin sign-in refused: the Origin header does not match the Host');
    return;
  }
  next();
};

function hostOf(origin: string): string | undefined {
  try {
    return new URL(origin).host;
  } catch {
    return undefined;
  }
}

function bodyOf(req: Request): unknown {
  // express.json leaves the body undefined for a request that is not labelled JSON.
  if (req.body === undefined) throw new AirlockError('BAD_REQUEST', 'Expected a JSON body with Content-Type: application/json');
  return req.body;
}

function sameSecret(given: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(expected));
}
