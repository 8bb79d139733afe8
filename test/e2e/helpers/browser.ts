/**
 * The review console end to end: a gateway with real storage, approvals, audit log, policy and console (pages
 * built into a folder of this run's own), Debian's Chromium driven by playwright-core, and console users.
 */
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { type Browser, chromium, type Page } from 'playwright-core';

import { buildWeb, type WebBuild } from '../../../web/build.js';
import { hashPassword } from '../../../server/src/console/passwords.js';
import type { Role } from '../../../server/src/console/roles.js';
import { createUser } from '../../../server/src/console/users.js';
import { startApprovalGateway, type ApprovalGateway } from './approval-gateway.js';
import { ROOT } from './gateway.js';

export { ADMIN_TOKEN } from './approval-gateway.js';
export const SCREENSHOTS = join(ROOT, 'test-results/screenshots');
export const DESKTOP = { width: 1280, height: 860 };
export const PHONE = { width: 390, height: 844 };

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
];

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS });
}

export interface ConsoleGateway extends ApprovalGateway {
  web: WebBuild;
  /** A console user with a password. */
  addUser(username: string, role: Role, password: string): Promise<void>;
}

/** The approval gateway of the e2e tests with the console built and served, on PGlite. */
export async function startConsoleGateway(policy: Record<string, unknown>): Promise<ConsoleGateway> {
  const web = await buildWeb(join(await mkdtemp(join(tmpdir(), 'airlock-console-')), 'web'));
  // No console.url: the browser reaches the console at the gateway's own address.
  const gw = await startApprovalGateway('pglite', policy, { syncCap: '10m', heartbeat: '1m' }, { webDir: web.outDir, config: { console: undefined } });
  return {
    ...gw,
    web,
    async addUser(username, role, password) {
      await createUser(gw.database.db, { username, role, passwordHash: await hashPassword(password) }, new Date());
    },
  };
}

/** Signs in through the form and waits for the page the browser was sent on to. */
export async function signIn(page: Page, username: string, password: string): Promise<void> {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await Promise.all([page.waitForURL((url) => url.pathname !== '/sign-in'), page.getByRole('button', { name: 'Sign in' }).click()]);
}

/** Saves `test-results/screenshots/<name>.png`: the whole page, or what fits the viewport for long lists. */
export async function screenshot(page: Page, name: string, fullPage = true): Promise<void> {
  await mkdir(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage });
}
