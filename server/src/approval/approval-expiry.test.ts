/**
 * Expiry as delayed jobs on the job queue (DESIGN.md §2), on PGlite and PostgreSQL with an injected clock: an
 * approval expires by its rule's on_timeout when its job comes due, a decided approval's job is gone, and a new
 * service on the same database (a restart) arms the jobs again.
 */
import { afterEach, describe, expect, it } from 'vitest';

import { AuditLog } from '../audit/audit-log.js';
import { MemoryJobQueue } from '../jobs/memory-job-queue.js';
import { ManualScheduler } from '../jobs/scheduler.js';
import { createLogger } from '../log/logger.js';
import { createTestDatabase, TEST_DIALECTS, type TestDatabase } from '../../../test/contract/test-databases.js';
import type { ApprovalEvent } from './approval.js';
import { ApprovalService, type HeldCall } from './approval-service.js';

const call = (text: string, onTimeout: 'reject' | 'approve' = 'reject'): HeldCall => ({
  server: 'payments',
  tool: 'create_charge',
  args: { text },
  caller: { grant: 'ci-bot' },
  callId: `call-${text}`,
  policyVersion: 'v1',
  rule: '/tools/create_charge/action',
  spec: { approvers: ['web:alice'], quorum: 1, timeoutMs: 60_000, onTimeout, channels: [] },
});

describe.each(TEST_DIALECTS)('approval expiry on the job queue (%s)', (dialect) => {
  let database: TestDatabase;
  const services: ApprovalService[] = [];
  const queues: MemoryJobQueue[] = [];

  afterEach(async () => {
    for (const service of services.splice(0)) await service.close();
    for (const queue of queues.splice(0)) await queue.close();
    await database?.destroy();
  });

  async function startService(scheduler: ManualScheduler): Promise<{ service: ApprovalService; events: ApprovalEvent[] }> {
    const queue = new MemoryJobQueue({ scheduler });
    queues.push(queue);
    const service = new ApprovalService({ db: database.db, audit: new AuditLog(database.db), clock: scheduler, logger: createLogger('silent'), queue });
    services.push(service);
    const events: ApprovalEvent[] = [];
    service.subscribe((event) => void events.push(event));
    await service.start();
    return { service, events };
  }

  it('expires by on_timeout when the job comes due, and a decided approval’s job does nothing', async () => {
    database = await createTestDatabase(dialect);
    const scheduler = new ManualScheduler();
    const { service } = await startService(scheduler);
    const rejected = (await service.request(call('reject on timeout'))).approval;
    const approved = (await service.request(call('approve on timeout', 'approve'))).approval;
    const decided = (await service.request(call('decided first'))).approval;
    await service.decide(decided.id, { decision: 'approve' }, { id: 'web:alice', via: 'web' });

    await scheduler.advance(59_000);
    expect((await service.get(rejected.id))?.status).toBe('pending');
    await scheduler.advance(1_000);
    await expect.poll(async () => (await service.get(rejected.id))?.status).toBe('expired');
    await expect.poll(async () => (await service.get(approved.id))?.status).toBe('approved');
    expect(await service.get(approved.id)).toMatchObject({ decidedBy: 'system', reason: 'no decision within 1m; the rule approves on timeout' });
    expect(await service.get(decided.id)).toMatchObject({ status: 'approved', decidedBy: 'web:alice' });
  });

  it('arms the jobs again when a new service starts on the same database', async () => {
    database = await createTestDatabase(dialect);
    const scheduler = new ManualScheduler();
    const first = await startService(scheduler);
    const held = (await first.service.request(call('held over a restart'))).approval;
    await first.service.close();
    await queues.shift()!.close();

    const second = await startService(scheduler);
    await second.service.recover();
    expect((await second.service.get(held.id))?.status).toBe('abandoned');
    await scheduler.advance(60_000);
    await expect.poll(async () => (await second.service.get(held.id))?.status).toBe('expired');
    expect(second.events.map((e) => `${e.type}:${e.approval.status}`)).toContain('decided:expired');
  });
});
