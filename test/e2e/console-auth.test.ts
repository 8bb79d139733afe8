/**
 * The console's sign-in and what it guards, over plain HTTP and websockets: nothing of the API or the stream
 * answers without a session; a session's state changes need its CSRF token; cookies are HttpOnly and
 * SameSite=Strict; sign-out ends the session; the admin token signs in as `admin`; the one-time setup link makes
 * the first admin once; repeated wrong passwords are slowed down; viewers cannot decide.
 */
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { connectStream, refusedUpgrade } from '../../server/src/api/testing/api-server.js';
import { issueSetupToken } from '../../server/src/console/setup-link.js';
import { systemClock } from '../../server/src/util/clock.js';
import { ADMIN_TOKEN, type ConsoleGateway, startConsoleGateway } from './helpers/browser.js';
import { rawCall, textOf } from './helpers/gateway.js';

const POLICY = {
  version: '1',
  default: 'allow',
  tools: { echo: { action: 'require_approval', approval: { approvers: ['web:alice', 'web:victor', 'web:admin', 'web:root'] } } },
};
const PASSWORD = 'correct horse battery';

let gw: ConsoleGateway;
let client: Client;

interface Signed {
  cookie: string;
  csrfToken: string;
  setCookie: string;
}

async function signIn(username: string, password = PASSWORD, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${gw.url}/api/auth/sign-in`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ username, password }),
  });
}

async function session(username: string, password = PASSWORD): Promise<Signed> {
  const res = await signIn(username, password);
  expect(res.status).toBe(200);
  const setCookie = res.headers.get('set-cookie') ?? '';
  const body = (await res.json()) as { csrfToken: string };
  return { cookie: setCookie.split(';')[0]!, csrfToken: body.csrfToken, setCookie };
}

function api(path: string, init: RequestInit & { as?: Signed; csrf?: string } = {}) {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...(init.headers as Record<string, string>) };
  if (init.as) headers.cookie = init.as.cookie;
  if (init.csrf !== undefined) headers['x-csrf-token'] = init.csrf;
  return fetch(`${gw.url}/api${path}`, { ...init, headers });
}

/** Holds an echo call and returns its approval id and the pending call. */
async function held(text: string): Promise<{ id: string; call: Promise<Record<string, unknown>> }> {
  const call = rawCall(client, 'test__echo', { text });
  await expect.poll(async () => (await gw.service.list({ status: 'pending' })).length).toBeGreaterThan(0);
  const [approval] = await gw.service.list({ status: 'pending' });
  return { id: approval!.id, call };
}

beforeAll(async () => {
  gw = await startConsoleGateway(POLICY);
  await gw.addUser('alice', 'approver', PASSWORD);
  await gw.addUser('victor', 'viewer', PASSWORD);
  client = await gw.connect();
}, 60_000);

afterAll(async () => {
  await client?.close();
  await gw?.close();
});

describe('without a session', () => {
  it('refuses every API route and the websocket', async () => {
    for (const path of ['/approvals', '/approvals/x', '/audit', '/audit/export?format=csv', '/audit/verify', '/policy', '/session']) {
      const res = await api(path);
      expect(res.status, path).toBe(401);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('UNAUTHORIZED');
    }
    expect((await api('/approvals/x/decision', { method: 'POST', body: '{"decision":"approve"}' })).status).toBe(401);
    expect((await api('/auth/sign-out', { method: 'POST' })).status).toBe(401);
    expect((await refusedUpgrade(`${gw.url.replace('http', 'ws')}/api/stream`)).status).toBe(401);
    expect((await refusedUpgrade(`${gw.url.replace('http', 'ws')}/api/stream`, [], { headers: { cookie: 'airlock_session=forged' }, origin: gw.url })).status).toBe(401);
  });

  it('sends the pages to sign-in, which it serves with a strict content security policy', async () => {
    const page = await fetch(`${gw.url}/approvals/abc?x=1`, { redirect: 'manual' });
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toBe('/sign-in?next=%2Fapprovals%2Fabc%3Fx%3D1');
    const signInPage = await fetch(`${gw.url}/sign-in`);
    expect(signInPage.status).toBe(200);
    expect(signInPage.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(signInPage.headers.get('x-frame-options')).toBe('DENY');
    expect(await signInPage.text()).toMatch(/<script type="module" src="\/assets\/app-\w+\.js"><\/script>/);
  });
});

describe('signing in', () => {
  it('sets an HttpOnly, SameSite=Strict session cookie and tells the page its CSRF token', async () => {
    const alice = await session('alice');
    expect(alice.setCookie).toMatch(/^airlock_session=[\w-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=604800$/);
    const me = await api('/session', { as: alice });
    expect(await me.json()).toEqual({ user: { username: 'alice', displayName: null, role: 'approver' }, csrfToken: alice.csrfToken });
  });

  it('refuses a wrong password, an unknown user, a cross-origin form and a body that is not JSON', async () => {
    expect((await signIn('alice', 'not the password')).status).toBe(401);
    const unknown = await signIn('mallory', 'whatever it is');
    expect(unknown.status).toBe(401);
    expect(await unknown.json()).toEqual({ error: { code: 'UNAUTHORIZED', message: 'Wrong username or password' } });
    expect((await signIn('alice', PASSWORD, { origin: 'https://evil.example' })).status).toBe(403);
    const form = await fetch(`${gw.url}/api/auth/sign-in`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'username=alice' });
    expect(form.status).toBe(400);
  });

  it('slows down guessing: ten wrong passwords for one user lock that user out from that address for a while', async () => {
    await gw.addUser('guessed', 'viewer', PASSWORD);
    for (let i = 0; i < 10; i += 1) expect((await signIn('guessed', `guess ${i}`)).status).toBe(401);
    const locked = await signIn('guessed', PASSWORD);
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await signIn('alice')).status).toBe(200);
  });

  it('signs in as admin with AIRLOCK_ADMIN_TOKEN as the password', async () => {
    const admin = await session('admin', ADMIN_TOKEN);
    expect(await (await api('/session', { as: admin })).json()).toMatchObject({ user: { username: 'admin', role: 'admin' } });
    const { id, call } = await held('admin decides');
    const res = await api(`/approvals/${id}/decision`, { method: 'POST', as: admin, csrf: admin.csrfToken, body: '{"decision":"approve"}' });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { approval: { decidedBy: string; decidedVia: string } }).approval).toMatchObject({ decidedBy: 'web:admin', decidedVia: 'web' });
    expect(textOf(await call)).toBe('admin decides');
  });
});

describe('with a session', () => {
  it('needs the session’s CSRF token on a decision: missing or wrong is refused and changes nothing', async () => {
    const alice = await session('alice');
    const { id, call } = await held('csrf');
    const missing = await api(`/approvals/${id}/decision`, { method: 'POST', as: alice, body: '{"decision":"approve"}' });
    expect(missing.status).toBe(403);
    expect(((await missing.json()) as { error: { message: string } }).error.message).toMatch(/X-CSRF-Token header is missing/);
    const wrong = await api(`/approvals/${id}/decision`, { method: 'POST', as: alice, csrf: 'not-the-token', body: '{"decision":"approve"}' });
    expect(wrong.status).toBe(403);
    const other = await session('alice');
    expect((await api(`/approvals/${id}/decision`, { method: 'POST', as: alice, csrf: other.csrfToken, body: '{"decision":"approve"}' })).status).toBe(403);
    expect((await gw.service.get(id))?.status).toBe('pending');
    const ok = await api(`/approvals/${id}/decision`, { method: 'POST', as: alice, csrf: alice.csrfToken, body: '{"decision":"reject","reason":"csrf test"}' });
    expect(ok.status).toBe(200);
    expect(textOf(await call)).toBe('Policy violation: Rejected by web:alice: csrf test');
  });

  it('refuses a viewer’s decision even where the policy names them', async () => {
    const victor = await session('victor');
    const { id, call } = await held('viewer');
    const res = await api(`/approvals/${id}/decision`, { method: 'POST', as: victor, csrf: victor.csrfToken, body: '{"decision":"approve"}' });
    expect(res.status).toBe(403);
    expect((await api('/audit', { as: victor })).status).toBe(200);
    await gw.service.decide(id, { decision: 'reject' }, { id: 'web:alice', via: 'web' });
    await call;
  });

  it('opens the websocket from its own origin only', async () => {
    const alice = await session('alice');
    const stream = connectStream(`${gw.url.replace('http', 'ws')}/api/stream`, [], { headers: { cookie: alice.cookie }, origin: gw.url });
    expect(await stream.next()).toMatchObject({ type: 'hello', pending: [] });
    stream.ws.close();
    const foreign = await refusedUpgrade(`${gw.url.replace('http', 'ws')}/api/stream`, [], { headers: { cookie: alice.cookie }, origin: 'https://evil.example' });
    expect(foreign.status).toBe(403);
  });

  it('signs out only with the CSRF token, and the cookie is dead afterwards', async () => {
    const alice = await session('alice');
    expect((await api('/auth/sign-out', { method: 'POST', as: alice })).status).toBe(403);
    const out = await api('/auth/sign-out', { method: 'POST', as: alice, csrf: alice.csrfToken });
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/^airlock_session=; Path=\/; HttpOnly; SameSite=Strict; Max-Age=0$/);
    expect((await api('/session', { as: alice })).status).toBe(401);
    expect((await refusedUpgrade(`${gw.url.replace('http', 'ws')}/api/stream`, [], { headers: { cookie: alice.cookie }, origin: gw.url })).status).toBe(401);
  });
});

describe('the one-time setup link', () => {
  it('creates the first admin once and signs them in; the link is dead afterwards', async () => {
    // The admin-token sign-in above made `admin` an admin: start from a database without one.
    await gw.database.db.query("UPDATE console_users SET role = 'viewer' WHERE role = 'admin'");
    const token = await issueSetupToken(gw.database.db, systemClock);
    const spare = await issueSetupToken(gw.database.db, systemClock);
    expect(token).toBeDefined();
    const setup = (body: Record<string, unknown>) => api('/auth/setup', { method: 'POST', body: JSON.stringify(body) });
    expect((await setup({ token: 'made-up', username: 'root', password: PASSWORD })).status).toBe(403);
    expect((await setup({ token, username: 'root', password: 'short' })).status).toBe(400);
    const res = await setup({ token, username: 'root', displayName: 'Root Admin', password: PASSWORD });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ user: { username: 'root', displayName: 'Root Admin', role: 'admin' } });
    expect(res.headers.get('set-cookie')).toMatch(/^airlock_session=/);
    expect((await setup({ token, username: 'root2', password: PASSWORD })).status).toBe(403);
    expect((await setup({ token: spare, username: 'root3', password: PASSWORD })).status).toBe(403);
    expect(await issueSetupToken(gw.database.db, systemClock)).toBeUndefined();
    expect((await signIn('root')).status).toBe(200);
  });
});
