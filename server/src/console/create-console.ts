/**
 * The review console's server side, composed: cookie sessions (which the API's auth resolves), the console's own
 * routes under `/api` (sign-in, session, audit, policy, and the viewer guard in front of decisions), and the
 * pages. The approvals API and the live stream are the API's (server/src/api); the console adds to them.
 */
import express, { type Router } from 'express';

import type { ApiAuth } from '../api/api-auth.js';
import { apiErrorHandler } from '../api/api-errors.js';
import type { Db } from '../db/db.js';
import type { Logger } from '../log/logger.js';
import type { Clock } from '../util/clock.js';
import { createAuditRoutes } from './audit-routes.js';
import { createAuthRoutes } from './auth-routes.js';
import { requireDecider } from './console-auth.js';
import { createPages, defaultWebDir } from './pages.js';
import { type ConsolePolicySource, createPolicyRoutes } from './policy-routes.js';
import { CookieSessions, SessionStore } from './sessions.js';
import type { UpstreamCatalog } from './upstream-tools.js';

export interface ConsoleOptions {
  db: Db;
  clock: Clock;
  logger: Logger;
  adminToken?: string | undefined;
  consoleUrl?: string | undefined;
  policy?: ConsolePolicySource | undefined;
  /** Every upstream's tools, for the policy page. */
  catalogs: () => Promise<UpstreamCatalog[]>;
  /** The built pages; defaults to the installation's `web/dist`. */
  webDir?: string | undefined;
}

export interface ReviewConsole {
  /** For createApiAuth: browsers authenticate to `/api` and `/api/stream` with the console's session cookie. */
  readonly sessions: CookieSessions;
  /** Mounted at `/api` before the approvals API: requests it does not answer fall through to it. */
  api(auth: ApiAuth): Router;
  /** Mounted after every other route. */
  readonly pages: Router;
}

export function createConsole(options: ConsoleOptions): ReviewConsole {
  const store = new SessionStore(options.db, options.clock);
  const sessions = new CookieSessions(store);
  return {
    sessions,
    api(auth) {
      const router = express.Router();
      router.use(createAuthRoutes({ ...options, store, sessions, auth }));
      router.use(createAuditRoutes({ db: options.db, auth, clock: options.clock }));
      router.use(createPolicyRoutes({ policy: options.policy, auth, catalogs: options.catalogs }));
      // Runs the auth middleware, then lets approvers and admins on to the approvals API's own decision route.
      router.post('/approvals/:id/decision', auth.middleware, requireDecider(sessions));
      router.use(apiErrorHandler({ bodyLimitBytes: 16 * 1024, logger: options.logger }));
      return router;
    },
    pages: createPages({ dir: options.webDir ?? defaultWebDir(), sessions }),
  };
}
