/**
 * The review console end to end: a gateway with real storage, approvals, audit log, policy and console (pages
 * built into a folder of this run's own), Debian's Chromium driven by playwright-core, and console users.
 */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { type Browser, chromium, type Page } from 'playwright-core';

import { buildWeb, type WebBuild } from '../../../web/build.js';
import { ApprovalService } from '../../../server/src/approval/approval-service.js';
import { AuditLog } from '../../../server/src/audit/audit-log.js';
import { parseConfig } from '../../../server/src/config/load.js';
import { hashPassword } from '../../../server/src/console/passwords.js';
import type { Role } from '../../../server/src/console/roles.js';
import { createUser } from '../../../server/src/console/users.js';
import { createGateway, type Gateway } from '../../../server/src/gateway/create-gateway.js';
import { MemoryLimitStore } from '../../../server/src/limits/memory-limit-store.js';
import { createLogger } from '../../../server/src/log/logger.js';
import { PolicyWatcher } from '../../../server/src/policy/policy-watcher.js';
import { systemClock } from '../../../server/src/util/clock.js';
import { createTestDatabase, type TestDatabase } from '../../contract/test-databases.js';
import { ROOT, TEST_UPSTREAM, tsxCommand } from './gateway.js';

export const ADMIN_TOKEN = 'console-e2e-admin-token';
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

export interface ConsoleGateway {
  url: string;
  gateway: Gateway;
  service: ApprovalService;
  audit: AuditLog;
  database: TestDatabase;
  web: WebBuild;
  /** A console user with a password. */
  addUser(username: string, role: Role, password: string): Promise<void>;
  /** An SDK client on `/mcp`. */
  connect(): Promise<Client>;
  close(): Promise<void>;
}

export async function startConsoleGateway(policy: Record<string, unknown>): Promise<ConsoleGateway> {
  const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
  const database = await createTestDatabase('pglite');
  const dir = await mkdtemp(join(tmpdir(), 'airlock-console-'));
  const web = await buildWeb(join(dir, 'web'));
  await writeFile(join(dir, 'policy.json'), JSON.stringify(policy));
  const watcher = await PolicyWatcher.open(join(dir, 'policy.json'), logger);
  const audit = new AuditLog(database.db, { flushDelayMs: 1 });
  const service = new ApprovalService({ db: database.db, audit, clock: systemClock, logger, groups: { oncall: ['web:alice', 'web:bob'] } });
  const config = parseConfig({ listen: { port: 0 }, servers: { test: tsxCommand(TEST_UPSTREAM) }, approvals: { syncCap: '10m', heartbeat: '1m' } }, 'test', {});
  const gateway = createGateway({
    config,
    logger,
    policy: watcher,
    limitStore: new MemoryLimitStore(),
    approvals: service,
    audit,
    adminToken: ADMIN_TOKEN,
    console: { db: database.db, webDir: web.outDir },
  });
  const { url } = await gateway.listen();
  return {
    url,
    gateway,
    service,
    audit,
    database,
    web,
    async addUser(username, role, password) {
      await createUser(database.db, { username, role, passwordHash: await hashPassword(password) }, new Date());
    },
    async connect() {
      const client = new Client({ name: 'console-e2e', version: '1.0.0' }, { capabilities: {} });
      await client.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`)));
      return client;
    },
    async close() {
      watcher.close();
      service.close();
      await gateway.close();
      await audit.close();
      await database.destroy();
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
