/** A gateway with real storage, audit log, approval service and policy, for the approval end-to-end tests. */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import type { RequestHandler } from 'express';
import { expect } from 'vitest';

import { ApprovalService } from '../../../server/src/approval/approval-service.js';
import { AuditLog } from '../../../server/src/audit/audit-log.js';
import { parseConfig } from '../../../server/src/config/load.js';
import type { Db, Dialect } from '../../../server/src/db/db.js';
import { createGateway, type Gateway } from '../../../server/src/gateway/create-gateway.js';
import type { JobQueue } from '../../../server/src/jobs/job-queue.js';
import { MemoryLimitStore } from '../../../server/src/limits/memory-limit-store.js';
import { createLogger } from '../../../server/src/log/logger.js';
import { PolicyWatcher } from '../../../server/src/policy/policy-watcher.js';
import { systemClock } from '../../../server/src/util/clock.js';
import { createTestDatabase, type TestDatabase } from '../../contract/test-databases.js';
import { TEST_UPSTREAM, tsxCommand } from './gateway.js';

export const ADMIN_TOKEN = 'e2e-admin-token';

export interface ApprovalGateway {
  gateway: Gateway;
  url: string;
  service: ApprovalService;
  audit: AuditLog;
  database: TestDatabase;
  connect(options?: { capabilities?: Record<string, unknown> }): Promise<Client>;
  close(): Promise<void>;
}

export interface ApprovalGatewayOptions {
  /** Extra handlers the gateway mounts (the Slack app), built on the real approval service. */
  routes?: (service: ApprovalService) => RequestHandler[];
  /** Serves the review console from this built folder. */
  webDir?: string;
  /** Config keys laid over the test defaults. */
  config?: Record<string, unknown>;
  /** Runs expiry and the jobs that follow changes (the Slack app's, on this same queue) through the outbox. */
  queue?: JobQueue;
  /** The handle the gateway's storage uses, given the test database (default: the test database's own). */
  db?: (database: TestDatabase) => Promise<Db>;
}

export async function startApprovalGateway(
  dialect: Dialect,
  policy: Record<string, unknown>,
  approvals: Record<string, unknown> = {},
  options: ApprovalGatewayOptions = {},
): Promise<ApprovalGateway> {
  const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
  const database = await createTestDatabase(dialect);
  const db = options.db ? await options.db(database) : database.db;
  const dir = await mkdtemp(join(tmpdir(), 'airlock-approval-'));
  await writeFile(join(dir, 'policy.json'), JSON.stringify(policy));
  const watcher = await PolicyWatcher.open(join(dir, 'policy.json'), logger);
  const config = parseConfig(
    { listen: { port: 0 }, servers: { test: tsxCommand(TEST_UPSTREAM) }, approvals, console: { url: 'http://console.example' }, ...options.config },
    'test',
    {},
  );
  const audit = new AuditLog(db, { flushDelayMs: 1, maxBacklog: config.audit.maxBacklog });
  const service = new ApprovalService({
    db,
    audit,
    clock: systemClock,
    logger,
    groups: { oncall: ['web:alice', 'web:bob'] },
    ...(options.queue ? { queue: options.queue } : {}),
  });
  await service.start();
  const gateway = createGateway({
    config,
    logger,
    policy: watcher,
    limitStore: new MemoryLimitStore(),
    approvals: service,
    audit,
    adminToken: ADMIN_TOKEN,
    routes: options.routes?.(service) ?? [],
    ...(options.webDir ? { console: { db, webDir: options.webDir } } : {}),
  });
  const { url } = await gateway.listen();
  return {
    gateway,
    url,
    service,
    audit,
    database,
    async connect(options = {}) {
      const client = new Client({ name: 'approval-e2e', version: '1.0.0' }, { capabilities: options.capabilities ?? {} });
      await client.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`)));
      return client;
    },
    async close() {
      watcher.close();
      await service.close();
      await gateway.close();
      await audit.close();
      if (db !== database.db) await db.close();
      await database.destroy();
    },
  };
}

/** The id of the one pending approval the service knows, once there is one. */
export async function pendingApprovalId(service: Pick<ApprovalService, 'list'>): Promise<string> {
  let id = '';
  await expect
    .poll(async () => {
      id = (await service.list({ status: 'pending' }))[0]?.id ?? '';
      return id;
    })
    .not.toBe('');
  return id;
}
