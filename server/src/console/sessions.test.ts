/** Sessions, users and setup links on real storage (PGlite and PostgreSQL), with a manual clock. */
import type { IncomingMessage } from 'node:http';

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { createTestDatabase, TEST_DIALECTS, type TestDatabase } from '../../../test/contract/test-databases.js';
import { ManualClock } from '../util/clock.js';
import { CookieSessions, SESSION_IDLE_MS, SESSION_MAX_MS, SessionStore } from './sessions.js';
import { issueSetupToken, redeemSetupToken, SETUP_TOKEN_TTL_MS } from './setup-link.js';
import { createUser, ensureTokenAdmin, hasActiveAdmin } from './users.js';

describe.each(TEST_DIALECTS)('console storage on %s', (dialect) => {
  let database: TestDatabase;
  let clock: ManualClock;
  let store: SessionStore;

  // One migrated database per dialect (migrating takes seconds); each test starts from empty console tables.
  beforeAll(async () => {
    database = await createTestDatabase(dialect);
  });
  afterAll(() => database.destroy());
  beforeEach(async () => {
    await database.db.exec('DELETE FROM console_sessions; DELETE FROM console_users; DELETE FROM console_setup_tokens;');
    clock = new ManualClock(Date.parse('2026-11-24T09:00:00Z'));
    store = new SessionStore(database.db, clock);
  });

  const alice = () => createUser(database.db, { username: 'alice', role: 'approver', passwordHash: null }, new Date(clock.now()));

  describe('users', () => {
    it('refuses a second user of the same name and a name a policy could not spell', async () => {
      await alice();
      await expect(alice()).rejects.toMatchObject({ code: 'CONFLICT', message: 'A console user named "alice" already exists' });
      await expect(createUser(database.db, { username: 'Alice Smith', role: 'viewer', passwordHash: null }, new Date())).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    });

    it('makes the admin-token user an admin, whatever role an earlier `admin` had', async () => {
      await createUser(database.db, { username: 'admin', role: 'viewer', passwordHash: null }, new Date());
      expect(await hasActiveAdmin(database.db)).toBe(false);
      expect((await ensureTokenAdmin(database.db, new Date())).role).toBe('admin');
      expect(await hasActiveAdmin(database.db)).toBe(true);
    });
  });

  describe('sessions', () => {
    it('resolves a session to its user, actor and CSRF token, and forgets it when revoked', async () => {
      const user = await alice();
      const { token, csrfToken } = await store.create(user.id);
      expect(await store.find(token)).toEqual({
        user: { id: user.id, username: 'alice', displayName: null, role: 'approver' },
        actor: { id: 'web:alice', via: 'web' },
        csrfToken,
      });
      const stored = await database.db.query<{ token_hash: string }>('SELECT token_hash FROM console_sessions');
      expect(stored[0]?.token_hash).not.toContain(token);
      await store.revoke(token);
      expect(await store.find(token)).toBeUndefined();
    });

    it('ends after the idle timeout, is extended by use, and never outlives the maximum', async () => {
      const { token } = await store.create((await alice()).id);
      clock.advance(SESSION_IDLE_MS - 1000);
      expect(await store.find(token)).toBeDefined();
      clock.advance(SESSION_IDLE_MS - 1000);
      expect(await store.find(token)).toBeDefined();
      for (let used = 2 * (SESSION_IDLE_MS - 1000); used + SESSION_IDLE_MS / 2 < SESSION_MAX_MS; used += SESSION_IDLE_MS / 2) {
        clock.advance(SESSION_IDLE_MS / 2);
        expect(await store.find(token)).toBeDefined();
      }
      clock.advance(SESSION_IDLE_MS / 2);
      expect(await store.find(token)).toBeUndefined();

      const { token: idle } = await store.create((await createUser(database.db, { username: 'bob', role: 'viewer', passwordHash: null }, new Date())).id);
      clock.advance(SESSION_IDLE_MS);
      expect(await store.find(idle)).toBeUndefined();
    });

    it('ends at once when the user is disabled', async () => {
      const user = await alice();
      const { token } = await store.create(user.id);
      await database.db.query('UPDATE console_users SET disabled_at = now() WHERE id = $1', [user.id]);
      expect(await store.find(token)).toBeUndefined();
    });

    it('reads a request’s session once, however often the request is asked about', async () => {
      const { token } = await store.create((await alice()).id);
      let reads = 0;
      const counting = new CookieSessions({ find: (value: string) => (reads++, store.find(value)) } as unknown as SessionStore);
      const req = { headers: { cookie: `theme=dark; airlock_session=${token}` } } as IncomingMessage;
      expect((await counting.resolve(req))?.actor.id).toBe('web:alice');
      expect((await counting.session(req))?.user.role).toBe('approver');
      expect(reads).toBe(1);
      expect(await counting.resolve({ headers: {} } as IncomingMessage)).toBeUndefined();
    });

    it('answers whether a request’s session still holds afresh each time, without extending it', async () => {
      const user = await alice();
      const { token } = await store.create(user.id);
      const sessions = new CookieSessions(store);
      const req = { headers: { cookie: `airlock_session=${token}` } } as IncomingMessage;
      expect(await sessions.resolve(req)).toBeDefined();
      clock.advance(SESSION_IDLE_MS - 1000);
      expect(await sessions.stillLive(req)).toBe(true);
      // Asking did not count as use: the idle limit still runs from sign-in.
      clock.advance(1000);
      expect(await sessions.stillLive(req)).toBe(false);

      const { token: other } = await store.create(user.id);
      const otherReq = { headers: { cookie: `airlock_session=${other}` } } as IncomingMessage;
      expect(await sessions.stillLive(otherReq)).toBe(true);
      await store.revoke(other);
      expect(await sessions.stillLive(otherReq)).toBe(false);

      const { token: third } = await store.create(user.id);
      const thirdReq = { headers: { cookie: `airlock_session=${third}` } } as IncomingMessage;
      await database.db.query('UPDATE console_users SET disabled_at = now() WHERE id = $1', [user.id]);
      expect(await sessions.stillLive(thirdReq)).toBe(false);
      expect(await sessions.stillLive({ headers: {} } as IncomingMessage)).toBe(false);
    });
  });

  describe('setup links', () => {
    const admin = { username: 'root', passwordHash: 'x' };

    it('make one admin once, and none when an admin exists', async () => {
      const token = (await issueSetupToken(database.db, clock))!;
      expect((await redeemSetupToken(database.db, clock, token, admin)).role).toBe('admin');
      await expect(redeemSetupToken(database.db, clock, token, { ...admin, username: 'again' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
      expect(await issueSetupToken(database.db, clock)).toBeUndefined();
    });

    it('expire after a day', async () => {
      const token = (await issueSetupToken(database.db, clock))!;
      clock.advance(SETUP_TOKEN_TTL_MS);
      await expect(redeemSetupToken(database.db, clock, token, admin)).rejects.toMatchObject({ code: 'FORBIDDEN' });
      expect(await hasActiveAdmin(database.db)).toBe(false);
    });

    it('let only one of two links printed by two instances succeed', async () => {
      const [first, second] = [(await issueSetupToken(database.db, clock))!, (await issueSetupToken(database.db, clock))!];
      const outcomes = await Promise.allSettled([
        redeemSetupToken(database.db, clock, first, admin),
        redeemSetupToken(database.db, clock, second, { ...admin, username: 'other' }),
      ]);
      expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
      const [row] = await database.db.query<{ count: number }>("SELECT count(*)::int AS count FROM console_users WHERE role = 'admin'");
      expect(row?.count).toBe(1);
    });
  });
});
