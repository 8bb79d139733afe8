/**
 * Who is behind an authenticated console request, with their role: a cookie session's user, or `admin` for the
 * AIRLOCK_ADMIN_TOKEN bearer. Also the guard that keeps viewers from deciding, placed in front of the approvals
 * API's decision route because the approval service knows approvers, not console roles.
 */
import type { IncomingMessage } from 'node:http';

import type { RequestHandler, Response } from 'express';

import { ADMIN_ACTOR, requestActor } from '../api/api-auth.js';
import { sendApiError } from '../api/api-errors.js';
import { mayDecide, type Role } from './roles.js';
import type { CookieSessions } from './sessions.js';
import { TOKEN_ADMIN_USERNAME } from './users.js';

export interface ConsoleIdentity {
  username: string;
  displayName: string | null;
  role: Role;
  /** null for bearer-token callers, which need no CSRF token. */
  csrfToken: string | null;
}

/** Call after the API auth middleware: it has established that the request is authenticated. */
export async function identify(sessions: CookieSessions, req: IncomingMessage, res: Response): Promise<ConsoleIdentity> {
  const session = await sessions.session(req);
  if (session) {
    const { username, displayName, role } = session.user;
    return { username, displayName, role, csrfToken: session.csrfToken };
  }
  // The middleware let the request through without a session: it carried the admin token.
  const actor = requestActor(res);
  if (actor !== ADMIN_ACTOR) throw new Error('identify: an authenticated request with neither a session nor the admin token');
  return { username: TOKEN_ADMIN_USERNAME, displayName: null, role: 'admin', csrfToken: null };
}

/** 403 for a viewer; everyone else goes on to the route that decides (and may still refuse them). */
export function requireDecider(sessions: CookieSessions): RequestHandler {
  return async (req, res, next) => {
    const who = await identify(sessions, req, res);
    if (!mayDecide(who.role)) {
      sendApiError(res, 403, 'FORBIDDEN', `${who.username} is a viewer: only approvers and admins decide approvals`);
      return;
    }
    next();
  };
}
