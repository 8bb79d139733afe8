/**
 * The review console in real headless Chromium against a real gateway: sign-in and the redirect to it, the live
 * queue (an SDK client's call appears without a reload; approving returns the upstream's result; rejecting from
 * the keyboard returns the policy violation with the reason; a decision made through the API disappears at once;
 * the reconnect notice), a viewer who cannot decide, the approval page, the history with filters, export and
 * verification, the policy page, and sign-out. Screenshots at desktop and phone sizes land in
 * test-results/screenshots/.
 */
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';

import type { Client } from '@modelcontextprotocol/client';
import type { Browser, BrowserContext, Page, WebSocketRoute } from 'playwright-core';
import type { Approval } from '../../server/src/approval/approval.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { rawCall, textOf } from './helpers/gateway.js';
import { ADMIN_TOKEN, type ConsoleGateway, DESKTOP, launchBrowser, PHONE, screenshot, signIn, startConsoleGateway } from './helpers/browser.js';

const POLICY = {
  version: '1',
  default: 'allow',
  hide: ['crash'],
  tools: {
    echo: { action: 'require_approval', approval: { approvers: ['web:alice', 'web:victor', 'web:admin', 'web:carol'], timeout: '30m' } },
    log: { action: 'require_approval', approval: { approvers: ['group:oncall'], timeout: '20m' } },
    hang: { action: 'deny', reason: 'Hanging tools are not for agents.' },
    stamp: { limits: [{ counter: 'stamps', window: 'minute', max: 5 }] },
  },
};
const PASSWORD = 'correct horse battery';
/** The queue's JavaScript and stylesheet must stay small: first load ≤ 200 KB of JavaScript. */
const MAX_FIRST_LOAD_JS = 200 * 1024;

let gw: ConsoleGateway;
let browser: Browser;
let client: Client;

/** Waits give up before the test does, so a failure names the locator that never appeared. */
async function newContext(viewport = DESKTOP): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport, baseURL: gw.url });
  context.setDefaultTimeout(10_000);
  return context;
}

async function signedInPage(username: string, viewport = DESKTOP): Promise<{ context: BrowserContext; page: Page }> {
  const context = await newContext(viewport);
  const page = await context.newPage();
  await page.goto('/');
  await signIn(page, username, PASSWORD);
  await page.getByRole('heading', { name: /^Queue/ }).waitFor();
  return { context, page };
}

/** The queue card of the approval for `text`, once it is there. */
function card(page: Page, text: string) {
  return page.locator('li.card', { hasText: text });
}

async function pendingId(tool: string, text: string): Promise<string> {
  const matches = (a: Approval) => a.tool === tool && JSON.stringify(a.args).includes(text);
  await expect.poll(async () => (await gw.service.list({ status: 'pending' })).some(matches)).toBe(true);
  const found = (await gw.service.list({ status: 'pending' })).find(matches);
  if (!found) throw new Error(`no pending ${tool} call for ${text}`);
  return found.id;
}

beforeAll(async () => {
  [gw, browser] = await Promise.all([startConsoleGateway(POLICY), launchBrowser()]);
  await gw.addUser('alice', 'approver', PASSWORD);
  await gw.addUser('victor', 'viewer', PASSWORD);
  client = await gw.connect();
}, 60_000);

afterAll(async () => {
  await client?.close();
  await browser?.close();
  await gw?.close();
});

describe('the review console', () => {
  it('sends a signed-out browser to sign-in, then on to where it was going, loading ≤ 200 KB of JavaScript', async () => {
    const context = await newContext();
    const page = await context.newPage();
    const scripts: Promise<number>[] = [];
    page.on('response', (response) => {
      if (response.request().resourceType() === 'script') scripts.push(response.body().then((body) => body.length));
    });
    await page.goto('/history?tool=echo');
    expect(new URL(page.url()).pathname).toBe('/sign-in');
    expect(new URL(page.url()).searchParams.get('next')).toBe('/history?tool=echo');
    await page.getByLabel('Username').fill('alice');
    await page.getByLabel('Password').fill('wrong password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'Wrong username or password' }).waitFor();
    await signIn(page, 'alice', PASSWORD);
    expect(page.url()).toBe(`${gw.url}/history?tool=echo`);
    await page.getByRole('heading', { name: 'History' }).waitFor();
    expect(await page.getByLabel('Tool').inputValue()).toBe('echo');
    const bytes = (await Promise.all(scripts)).reduce((sum, size) => sum + size, 0);
    expect(bytes).toBeGreaterThan(0);
    expect(bytes).toBeLessThanOrEqual(MAX_FIRST_LOAD_JS);
    const built = gw.web.files.filter((file) => file.path.endsWith('.js')).reduce((sum, file) => sum + file.bytes, 0);
    expect(built).toBeLessThanOrEqual(MAX_FIRST_LOAD_JS);
    await context.close();
  });

  it('goes on after sign-in only to a page of its own site, however `next` is spelled', async () => {
    for (const next of ['//evil.example/x', '/\\evil.example/x', '/\t/evil.example/x', '/\n/evil.example/x', 'https://evil.example/x']) {
      const context = await newContext();
      const page = await context.newPage();
      await page.goto(`/sign-in?next=${encodeURIComponent(next)}`);
      await signIn(page, 'alice', PASSWORD);
      expect(new URL(page.url()).origin, next).toBe(gw.url);
      await context.close();
    }
  });

  it('shows an agent’s call in the queue without a reload; approving it returns the upstream’s result', async () => {
    const { context, page } = await signedInPage('alice');
    await page.getByText('Nothing is waiting for a decision').waitFor();
    let navigations = 0;
    page.on('framenavigated', () => (navigations += 1));
    const call = rawCall(client, 'test__echo', { text: 'ship it' });
    const item = card(page, 'echo');
    await item.waitFor();
    // Approvers see what they approve; only secrets are withheld.
    await item.getByText('ship it').waitFor();
    // A second call that someone else decides, so the screenshots show a queue of two.
    const other = rawCall(client, 'test__log', { message: 'rotate the signing keys', api_key: 'sk-live-0123456789abcdefghij' });
    await card(page, 'log').waitFor();
    await item.getByText('web:alice, web:victor, web:admin, web:carol').waitFor();
    await screenshot(page, 'queue-desktop');
    await page.setViewportSize(PHONE);
    await screenshot(page, 'queue-phone');
    await page.setViewportSize(DESKTOP);

    await item.getByRole('button', { name: 'Approve echo on test' }).click();
    const result = await call;
    expect(result.isError).toBeUndefined();
    expect(textOf(result)).toBe('ship it');
    await item.waitFor({ state: 'detached' });
    expect(navigations).toBe(0);

    const logId = await pendingId('log', 'rotate');
    await gw.service.decide(logId, { decision: 'approve' }, { id: 'web:bob', via: 'slack' });
    await other;
    await card(page, 'log').waitFor({ state: 'detached' });
    await context.close();
  });

  it('rejects from the keyboard with a reason, which the agent gets in its policy violation', async () => {
    const { context, page } = await signedInPage('alice');
    const call = rawCall(client, 'test__echo', { text: 'drop the tables' });
    const item = card(page, 'echo');
    await item.waitFor();
    await page.keyboard.press('j');
    await page.keyboard.press('r');
    const reason = item.getByLabel('Reason for rejecting');
    await reason.waitFor();
    expect(await reason.evaluate((element) => element === document.activeElement)).toBe(true);
    await page.keyboard.type('not during the change freeze');
    await page.keyboard.press('Enter');
    const result = await call;
    expect(result.isError).toBe(true);
    expect(textOf(result)).toBe('Policy violation: Rejected by web:alice: not during the change freeze');
    await item.waitFor({ state: 'detached' });
    await context.close();
  });

  it('removes a call decided through the API from an open queue at once, and says when it reconnects', async () => {
    const context = await newContext();
    const page = await context.newPage();
    const sockets: WebSocketRoute[] = [];
    await page.routeWebSocket(/\/api\/stream$/, (ws) => {
      sockets.push(ws);
      ws.connectToServer();
    });
    await page.goto('/');
    await signIn(page, 'alice', PASSWORD);
    await page.getByText('Nothing is waiting for a decision').waitFor();

    const call = rawCall(client, 'test__echo', { text: 'decided elsewhere' });
    const item = card(page, 'echo');
    await item.waitFor();
    const id = await pendingId('echo', 'decided elsewhere');
    const res = await fetch(`${gw.url}/api/approvals/${id}/decision`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ decision: 'approve', reason: 'from automation' }),
    });
    expect(res.status).toBe(200);
    await item.waitFor({ state: 'detached' });
    expect(textOf(await call)).toBe('decided elsewhere');

    // The connection drops while a call arrives: the notice shows, and the reconnect brings the call in.
    await sockets[0]!.close({ code: 1011, reason: 'test drops the stream' });
    await page.getByRole('status').filter({ hasText: 'Live updates interrupted' }).waitFor();
    const missed = rawCall(client, 'test__echo', { text: 'arrived while offline' });
    await page.getByRole('status').filter({ hasText: 'Reconnected' }).waitFor();
    await card(page, 'echo').waitFor();
    expect(sockets.length).toBeGreaterThanOrEqual(2);
    const missedId = await pendingId('echo', 'arrived while offline');
    await gw.service.decide(missedId, { decision: 'reject', reason: 'cleanup' }, { id: 'web:alice', via: 'web' });
    await missed;
    await context.close();
  });

  it('keeps an abandoned approval in the queue, across a reload, and deciding it answers the call', async () => {
    const { context, page } = await signedInPage('alice');
    const call = rawCall(client, 'test__echo', { text: 'held when the gateway stopped' });
    const item = card(page, 'held when the gateway stopped');
    await item.waitFor();
    // What a stopping gateway does with the calls it holds; this one keeps running, so the call still waits.
    expect(await gw.service.abandonHeld()).toBe(1);
    await item.getByText('The gateway stopped while holding it').waitFor();
    await page.reload();
    await card(page, 'held when the gateway stopped').getByText('The gateway stopped while holding it').waitFor();
    await card(page, 'held when the gateway stopped').getByRole('button', { name: /Approve/ }).click();
    expect(textOf(await call)).toBe('held when the gateway stopped');
    await card(page, 'held when the gateway stopped').waitFor({ state: 'detached' });
    await context.close();
  });

  it('shows on an open approval page a decision made while its live stream was down', async () => {
    const context = await newContext();
    const page = await context.newPage();
    const sockets: WebSocketRoute[] = [];
    let offline = false;
    await page.routeWebSocket(/\/api\/stream$/, (ws) => {
      sockets.push(ws);
      // While offline the page's socket opens but hears nothing from the gateway, as through a dead proxy.
      if (!offline) ws.connectToServer();
    });
    await page.goto('/');
    await signIn(page, 'alice', PASSWORD);
    const call = rawCall(client, 'test__echo', { text: 'decided while offline' });
    const id = await pendingId('echo', 'decided while offline');
    await page.goto(`/approvals/${id}`);
    await page.getByRole('heading', { name: 'Decide' }).waitFor();
    offline = true;
    const connected = sockets.length;
    await sockets.at(-1)!.close({ code: 1011, reason: 'test drops the stream' });
    await expect.poll(() => sockets.length).toBeGreaterThan(connected);
    await gw.service.decide(id, { decision: 'reject', reason: 'decided elsewhere' }, { id: 'web:alice', via: 'web' });
    await call;
    offline = false;
    await sockets.at(-1)!.close({ code: 1011, reason: 'test restores the stream' });
    await page.getByRole('status').filter({ hasText: 'Reconnected' }).waitFor();
    await page.getByText('decided elsewhere', { exact: true }).waitFor();
    expect(await page.getByRole('heading', { name: 'Decide' }).count()).toBe(0);
    await context.close();
  });

  it('lets a viewer follow the queue but not decide', async () => {
    const { context, page } = await signedInPage('victor');
    const call = rawCall(client, 'test__echo', { text: 'viewer looks' });
    const item = card(page, 'echo');
    await item.waitFor();
    await item.getByText('deciding needs the approver role').waitFor();
    expect(await item.getByRole('button', { name: /Approve/ }).count()).toBe(0);
    await page.keyboard.press('a');
    const id = await pendingId('echo', 'viewer looks');
    // Straight at the API with the viewer's own session and CSRF token: refused, though the policy names web:victor.
    const refused = await page.evaluate(async (approvalId) => {
      const session = (await (await fetch('/api/session')).json()) as { csrfToken: string };
      const res = await fetch(`/api/approvals/${approvalId}/decision`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-csrf-token': session.csrfToken },
        body: JSON.stringify({ decision: 'approve' }),
      });
      return { status: res.status, body: (await res.json()) as { error: { code: string; message: string } } };
    }, id);
    expect(refused).toEqual({ status: 403, body: { error: { code: 'FORBIDDEN', message: 'victor is a viewer: only approvers and admins decide approvals' } } });
    expect((await gw.service.get(id))?.status).toBe('pending');
    await gw.service.decide(id, { decision: 'reject', reason: 'test over' }, { id: 'web:alice', via: 'web' });
    await call;
    await context.close();
  });

  it('shows one approval whole: the call, its decision, its execution and its audit trail, also on a phone', async () => {
    const { context, page } = await signedInPage('alice', PHONE);
    const call = rawCall(client, 'test__echo', { text: 'look at me on a phone' });
    const item = card(page, 'echo');
    await item.waitFor();
    await item.getByRole('link', { name: 'Details and audit trail' }).click();
    await page.getByRole('heading', { name: 'Decide' }).waitFor();
    expect(new URL(page.url()).pathname).toMatch(/^\/approvals\//);
    await screenshot(page, 'approval-pending-phone');
    await page.getByRole('button', { name: 'Approve echo on test' }).click();
    expect(textOf(await call)).toBe('look at me on a phone');
    // The page follows the live stream: the decision, then the execution, without a reload.
    await page.getByRole('heading', { name: 'Execution' }).waitFor();
    await page.getByText('Succeeded').waitFor();
    const trail = page.locator('ol.timeline');
    for (const kind of ['approval requested', 'approved', 'executed']) await trail.getByText(kind, { exact: true }).waitFor();
    await page.getByText('by alice via web').waitFor();
    await screenshot(page, 'approval-phone');
    await page.setViewportSize(DESKTOP);
    await screenshot(page, 'approval-desktop');
    await context.close();
  });

  it('filters the history, exports exactly the filtered rows as JSONL and CSV, and shows the log verified', async () => {
    // carol decides only here: two rejections and one approval of hers to find among everything else.
    for (const [text, decision] of [['first of carol', 'reject'], ['second of carol', 'approve'], ['third of carol', 'reject']] as const) {
      const call = rawCall(client, 'test__echo', { text });
      const id = await pendingId('echo', text);
      await gw.service.decide(id, { decision, reason: `carol says ${decision}` }, { id: 'web:carol', via: 'web' });
      await call;
    }
    const { context, page } = await signedInPage('alice');
    await page.getByRole('link', { name: 'History' }).click();
    await page.getByText('The audit log is intact').waitFor();
    await page.getByLabel('Outcome').selectOption('rejected');
    await page.getByLabel('Tool').fill('echo');
    await page.getByLabel('Approver').fill('carol');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByRole('status').filter({ hasText: /^2 events shown\.$/ }).waitFor();
    expect(new URL(page.url()).searchParams.get('kind')).toBe('rejected');
    const outcomes = await page.locator('table.events tbody td[data-label="Outcome"]').allTextContents();
    expect(outcomes).toEqual(['rejected', 'rejected']);
    const details = await page.locator('table.events tbody td[data-label="Details"]').allTextContents();
    expect(details).toEqual(['by carol via web · “carol says reject”', 'by carol via web · “carol says reject”']);

    const [csvDownload] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Export CSV' }).click()]);
    const csv = (await readFile(await csvDownload.path(), 'utf8')).trim().split('\r\n');
    expect(csv[0]).toBe('seq,ts,kind,server,tool,grant,agent,session,actor,via,approvalId,rule,reason,upstreamStatus,durationMs,args,detail,hash');
    expect(csv).toHaveLength(3);
    expect(csv.slice(1).every((line) => line.includes(',rejected,test,echo,') && line.includes(',web:carol,web,'))).toBe(true);

    const [jsonlDownload] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Export JSONL' }).click()]);
    const lines = (await readFile(await jsonlDownload.path(), 'utf8')).trim().split('\n').map((line) => JSON.parse(line));
    expect(lines).toHaveLength(2);
    for (const line of lines) {
      expect(createHash('sha256').update(line.prev_hash + line.canonical).digest('hex')).toBe(line.hash);
      expect(JSON.parse(line.canonical)).toMatchObject({ kind: 'rejected', tool: 'echo', actor: 'web:carol', reason: 'carol says reject' });
    }

    // Keyset paging: more than a page of events, then the older ones appended below.
    await Promise.all(Array.from({ length: 30 }, () => rawCall(client, 'test__stats')));
    await page.getByRole('button', { name: 'Clear' }).click();
    await page.getByRole('status').filter({ hasText: /^50 events shown, more are older\.$/ }).waitFor();
    await screenshot(page, 'history-desktop', false);
    await page.setViewportSize(PHONE);
    await screenshot(page, 'history-phone', false);
    await page.getByRole('button', { name: 'Older events' }).click();
    await page.getByRole('status').filter({ hasText: /^(5[1-9]|[6-9]\d|\d{3,}) events shown/ }).waitFor();
    expect(await page.locator('table.events tbody tr').count()).toBeGreaterThan(50);
    await context.close();
  });

  it('shows the policy in force with each upstream tool’s decision and rule', async () => {
    const { context, page } = await signedInPage('alice');
    await page.getByRole('link', { name: 'Policy' }).click();
    await page.getByRole('heading', { name: 'Server test' }).waitFor();
    const row = (tool: string) => page.locator('table.tools tr', { has: page.locator('strong', { hasText: new RegExp(`^${tool}$`) }) });
    expect(await row('echo').locator('td[data-label="Decision"]').textContent()).toBe('needs approval');
    expect(await row('echo').locator('td[data-label="Rule"]').textContent()).toBe('/tools/echo');
    expect(await row('crash').locator('td[data-label="Decision"]').textContent()).toBe('hidden');
    expect(await row('hang').locator('td[data-label="Decision"]').textContent()).toBe('deny');
    expect(await row('hang').locator('td[data-label="Also"]').textContent()).toBe('agents are told: “Hanging tools are not for agents.”');
    expect(await row('stamp').locator('td[data-label="Also"]').textContent()).toBe('1 rate limit');
    expect(await row('roots').locator('td[data-label="Rule"]').textContent()).toBe('/default');
    await screenshot(page, 'policy-desktop');
    await context.close();
  });

  it('signs out: the session ends and the pages send the browser back to sign-in', async () => {
    const { context, page } = await signedInPage('alice');
    await Promise.all([page.waitForURL(/\/sign-in$/), page.getByRole('button', { name: 'Sign out' }).click()]);
    await page.goto('/');
    expect(new URL(page.url()).pathname).toBe('/sign-in');
    expect((await page.request.get('/api/approvals')).status()).toBe(401);
    await context.close();
  });
});
