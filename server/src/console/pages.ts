/**
 * The console's pages: `web/dist` as built by `npm run build:web`. Every page is the same index.html (the page
 * script draws the one the path names); a signed-out browser asking for any page but sign-in and setup is
 * redirected to `/sign-in?next=<where it was going>`. Assets have content-hashed names and are cached for good;
 * index.html never is, so a new build is picked up on the next load.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import express, { type RequestHandler, type Router } from 'express';

import type { CookieSessions } from './sessions.js';

/** Paths the page script draws; anything else falls through to the gateway's other routes (and their 404). */
const SIGNED_IN_PAGES = [/^\/$/, /^\/history\/?$/, /^\/policy\/?$/, /^\/approvals\/[^/]+\/?$/];
const PUBLIC_PAGES = [/^\/sign-in\/?$/, /^\/setup\/?$/];

/**
 * Only our own scripts and styles, no inline code, no framing: an approval's arguments come from agents, and the
 * page renders them as text, but this keeps a mistake from becoming script. `connect-src 'self'` covers the
 * same-origin websocket.
 */
const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'same-origin',
};

/** The installation's `web/dist`, found upwards from this module (source checkout and `dist/` alike). */
export function defaultWebDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'web'))) return join(dir, 'web', 'dist');
    const parent = dirname(dir);
    if (parent === dir) return join(process.cwd(), 'web', 'dist');
    dir = parent;
  }
}

export function createPages(options: { dir: string; sessions: CookieSessions }): Router {
  const router = express.Router();
  router.use('/assets', express.static(join(options.dir, 'assets'), { immutable: true, maxAge: '365d', index: false, fallthrough: false }));

  let index: Promise<string> | undefined;
  const sendIndex: RequestHandler = async (_req, res) => {
    index ??= readFile(join(options.dir, 'index.html'), 'utf8');
    let html: string;
    try {
      html = await index;
    } catch {
      index = undefined;
      res.status(503).type('text/plain').send('The review console is not built: run `npm run build:web` and reload.');
      return;
    }
    res.set({ ...SECURITY_HEADERS, 'Cache-Control': 'no-store' }).type('html').send(html);
  };

  router.get(PUBLIC_PAGES, sendIndex);
  router.get(SIGNED_IN_PAGES, async (req, res, next) => {
    if (await options.sessions.session(req)) {
      next();
      return;
    }
    res.set('Cache-Control', 'no-store').redirect(303, `/sign-in?next=${encodeURIComponent(req.originalUrl)}`);
  }, sendIndex);
  return router;
}
