import type { IncomingMessage } from 'node:http';

import { describe, expect, it } from 'vitest';

import { readCookie, sessionCookie } from './cookies.js';

describe('the session cookie', () => {
  it('is HttpOnly and SameSite=Strict, and Secure only when asked', () => {
    expect(sessionCookie('abc', { maxAgeSeconds: 60, secure: false })).toBe('airlock_session=abc; Path=/; HttpOnly; SameSite=Strict; Max-Age=60');
    expect(sessionCookie('abc', { maxAgeSeconds: 60, secure: true })).toBe('airlock_session=abc; Path=/; HttpOnly; SameSite=Strict; Max-Age=60; Secure');
  });

  it('is read from among other cookies, by exact name', () => {
    const req = { headers: { cookie: 'x_airlock_session=no; airlock_session=yes ; theme=dark' } } as IncomingMessage;
    expect(readCookie(req, 'airlock_session')).toBe('yes');
    expect(readCookie({ headers: {} } as IncomingMessage, 'airlock_session')).toBeUndefined();
  });
});
