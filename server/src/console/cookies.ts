/** The session cookie, read and written by hand: one cookie does not justify a dependency. */
import type { IncomingMessage } from 'node:http';

export const SESSION_COOKIE = 'airlock_session';

/** The value of one cookie in the request's Cookie header (RFC 6265 §5.4: `name=value` pairs joined by "; "). */
export function readCookie(req: IncomingMessage, name: string): string | undefined {
  for (const pair of (req.headers.cookie ?? '').split(';')) {
    const eq = pair.indexOf('=');
    if (eq !== -1 && pair.slice(0, eq).trim() === name) return pair.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * HttpOnly: page scripts never see the token. SameSite=Strict: no other site's page can send it. Secure whenever
 * the console is served over https, so it never travels in clear text. `maxAgeSeconds` 0 deletes the cookie.
 */
export function sessionCookie(value: string, options: { maxAgeSeconds: number; secure: boolean }): string {
  return [
    `${SESSION_COOKIE}=${value}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Strict',
    `Max-Age=${Math.max(0, Math.floor(options.maxAgeSeconds))}`,
    ...(options.secure ? ['Secure'] : []),
  ].join('; ');
}
