/**
 * The approval service's jobs (DESIGN.md §2), on PGlite and PostgreSQL with a manual clock and the in-process queue
 * behind a spy. Expiry: an approval expires by its rule's on_timeout when its job comes due, a decided approval's
 * job does nothing, and a new service on the same database (a restart) arms the jobs again. The outbox: the jobs
 * that follow a change are written in the change's own transaction, handed to the queue after the commit, and left
 * for a later pass, or another process, while the queue refuses them.
 */
import { afterEach, describe, expect, it } from 'vitest';

import { AuditLog } from '../audit/audit-log.js';
import { AirlockError } from '../errors/airlock-error.js';
import type { OutboxJob } from '../jobs/outbox.js';
import { ManualScheduler } from '../jobs/scheduler.js';
import { outboxRows } from '../jobs/testing/outbox-rows.js';
import { SpyQueue } from '../jobs/testing/spy-queue.js';
import { createLogger } from '../log/logger.js';
import { createTestDatabase, TEST_DIALECTS, type TestDatabase } from '../../../test/contract/test-databases.js';
import type { ApprovalEvent, ChangeJobs } from './approval.js';
import { ApprovalService, EXPIRE_JOB } from './approval-service.js';
import { heldCall } from './testing/held-call.js';

const call = (text: string, onTimeout: 'reject' | 'approve' = 'reject') => heldCall(text, { onTimeout });

const ALICE = { id: 'web:alice', via: 'web' } as const;
const REDIS_AWAY = new AirlockError('STORAGE_UNAVAILABLE', 'job queue: Redis did not answer within 5000 ms');

/** A listener's jobs, as the Slack app adds its own: one `notify` job per change, keyed by change. */
class NotifyJobs implements ChangeJobs {
  readonly kinds = { notify: { attempts: 3 } };
  failOn: ApprovalEvent['type'] | undefined;
  jobsFor({ type, approval }: ApprovalEvent): OutboxJob[] {
    if (type === this.failOn) throw new Error(`no jobs for ${type}`);
    return [{ kind: 'notify', key: `notify:${approval.id}:${type}`, payload: { type, approvalId: approval.id } }];
  }
}

describe.each(TEST_DIALECTS)('the approval service’s jobs (%s)', (dialect) => {
  let database: TestDatabase;
  const services: ApprovalService[] = [];
  const queues: SpyQueue[] = [];

  afterEach(async () => {
    for (const service of services.splice(0)) await service.close();
    for (const queue of queues.splice(0)) await queue.close();
    await database?.destroy();
  });

  /** A gateway process, as far as jobs go: a service on its own queue, whose `notify` jobs land in `notified`. */
  async function startProcess(scheduler: ManualScheduler, jobs?: ChangeJobs) {
    const queue = new SpyQueue(scheduler);
    queues.push(queue);
    const notified: unknown[] = [];
    queue.handle('notify', async (job) => void notified.push(job.payload));
    const service = new ApprovalService({ db: database.db, audit: new AuditLog(database.db), clock: scheduler, scheduler, logger: createLogger('silent'), queue });
    services.push(service);
    const events: ApprovalEvent[] = [];
    service.subscribe((event) => void events.push(event));
    if (jobs) service.addChangeJobs(jobs);
    await service.start();
    return { service, queue, events, notified };
  }

  describe('expiry', () => {
    it('expires by on_timeout when the job comes due, and a decided approval’s job does nothing', async () => {
      database = await createTestDatabase(dialect);
      const scheduler = new ManualScheduler();
      const { service } = await startProcess(scheduler);
      const rejected = (await service.request(call('reject on timeout'))).approval;
      const approved = (await service.request(call('approve on timeout', 'approve'))).approval;
      const decided = (await service.request(call('decided first'))).approval;
      await service.decide(decided.id, { decision: 'approve' }, ALICE);

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
      const first = await startProcess(scheduler);
      const held = (await first.service.request(call('held over a restart'))).approval;
      await first.service.close();
      await first.queue.close();

      const second = await startProcess(scheduler);
      await second.service.recover();
      expect((await second.service.get(held.id))?.status).toBe('abandoned');
      await scheduler.advance(60_000);
      // The change is told after its commit, which another connection can already see: wait for the telling.
      await expect.poll(() => second.events.map((e) => `${e.type}:${e.approval.status}`)).toContain('decided:expired');
      expect((await second.service.get(held.id))?.status).toBe('expired');
    });
  });

  describe('through the outbox', () => {
    it('writes a new approval’s expiry job with it, and nothing more while no listener adds jobs', async () => {
      database = await createTestDatabase(dialect);
      const { service, queue } = await startProcess(new ManualScheduler());
      const { approval } = await service.request(call('expiry only'));
      await service.decide(approval.id, { decision: 'approve' }, ALICE);
      await service.recordExecution(approval.id, { ok: true, upstreamStatus: 'ok', durationMs: 5 });

      expect(await outboxRows(database.db)).toEqual([
        expect.objectContaining({ kind: EXPIRE_JOB, job_key: `${EXPIRE_JOB}:${approval.id}`, payload: { approvalId: approval.id }, run_at: new Date(approval.expiresAt) }),
      ]);
      await expect.poll(() => queue.enqueued.map((job) => job.options?.key)).toEqual([`${EXPIRE_JOB}:${approval.id}`]);
    });

    it('writes a listener’s jobs in the change’s transaction: a change that rolls back leaves none', async () => {
      database = await createTestDatabase(dialect);
      const jobs = new NotifyJobs();
      const { service, notified } = await startProcess(new ManualScheduler(), jobs);
      const { approval } = await service.request(call('notified'));

      jobs.failOn = 'decided';
      await expect(service.decide(approval.id, { decision: 'approve' }, ALICE)).rejects.toThrow('no jobs for decided');
      expect((await service.get(approval.id))?.status).toBe('pending');
      expect((await outboxRows(database.db)).map((row) => row.job_key)).toEqual([`notify:${approval.id}:created`, `${EXPIRE_JOB}:${approval.id}`]);

      jobs.failOn = undefined;
      await service.decide(approval.id, { decision: 'approve' }, ALICE);
      await expect.poll(() => notified).toEqual([
        { type: 'created', approvalId: approval.id },
        { type: 'decided', approvalId: approval.id },
      ]);
      await expect.poll(async () => (await outboxRows(database.db)).map((row) => row.done)).toEqual([true, true, true]);
    });

    it('leaves the rows undone while the queue refuses them, and hands them over on the retry', async () => {
      database = await createTestDatabase(dialect);
      const scheduler = new ManualScheduler();
      const { service, queue, notified } = await startProcess(scheduler, new NotifyJobs());
      queue.refuse = REDIS_AWAY;
      const { approval } = await service.request(call('while Redis is away'));
      await expect.poll(async () => (await outboxRows(database.db))[0]?.last_error).toBe(REDIS_AWAY.message);
      // A pass stops at the first row the queue refuses.
      expect(await outboxRows(database.db)).toMatchObject([{ kind: 'notify', done: false }, { kind: EXPIRE_JOB, done: false, attempts: 0 }]);

      queue.refuse = undefined;
      await scheduler.advance(5000);
      await expect.poll(async () => (await outboxRows(database.db)).map((row) => row.done)).toEqual([true, true]);
      await expect.poll(() => notified).toEqual([{ type: 'created', approvalId: approval.id }]);
      await scheduler.advance(55_000);
      await expect.poll(async () => (await service.get(approval.id))?.status).toBe('expired');
    });

    it('hands over, in a process started after one died, the rows that one left', async () => {
      database = await createTestDatabase(dialect);
      const scheduler = new ManualScheduler();
      const dead = await startProcess(scheduler, new NotifyJobs());
      dead.queue.refuse = REDIS_AWAY;
      const { approval } = await dead.service.request(call('left behind'));
      await expect.poll(async () => (await outboxRows(database.db))[0]?.last_error).toBe(REDIS_AWAY.message);
      await dead.service.close();

      // No change of its own wakes its relay: what it does at start finds the rows.
      const next = await startProcess(scheduler, new NotifyJobs());
      await expect.poll(() => next.notified).toEqual([{ type: 'created', approvalId: approval.id }]);
      await expect.poll(async () => (await outboxRows(database.db)).map((row) => row.done)).toEqual([true, true]);
      await scheduler.advance(60_000);
      await expect.poll(async () => (await next.service.get(approval.id))?.status).toBe('expired');
    });
  });
});
