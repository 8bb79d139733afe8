import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';

import { REDIS_TEST_URL, storeEnabled } from '../../../test/contract/limit-store.contract.js';
import { startTcpProxyTo } from '../../../test/fixtures/tcp-proxy.js';
import type { AirlockError } from '../errors/airlock-error.js';
import { BULLMQ_QUEUE_NAME, BullMqJobQueue } from './bullmq-job-queue.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Short enough that a killed worker's job is taken over within about two seconds. */
const LOCK_DURATION_MS = 1000;
const STALLED_INTERVAL_MS = 500;

interface WorkerProcess {
  name: string;
  child: ChildProcessWithoutNullStreams;
  /** Resolves with the first line, from now on or already printed, that matches. */
  line(pattern: RegExp): Promise<string>;
  /** How many lines printed so far match. */
  count(pattern: RegExp): number;
}

/** Starts test/fixtures/job-worker.ts on `prefix`; its stdout lines are kept for `line`. */
function startWorker(name: string, prefix: string): WorkerProcess {
  const args = { url: REDIS_TEST_URL, prefix, lockDurationMs: LOCK_DURATION_MS, stalledIntervalMs: STALLED_INTERVAL_MS };
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/job-worker.ts', JSON.stringify(args)], { cwd: ROOT });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const lines: string[] = [];
  let waiters: Array<{ pattern: RegExp; resolve: (line: string) => void }> = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(line);
    waiters = waiters.filter((w) => (w.pattern.test(line) ? (w.resolve(line), false) : true));
  });
  const exited = once(child, 'exit');
  return {
    name,
    child,
    line(pattern) {
      const seen = lines.find((l) => pattern.test(l));
      if (seen !== undefined) return Promise.resolve(seen);
      return Promise.race([
        new Promise<string>((resolve) => waiters.push({ pattern, resolve })),
        exited.then(() => Promise.reject(new Error(`job worker ${name} exited before printing ${pattern}: ${stderr}`))),
      ]);
    },
    count: (pattern) => lines.filter((l) => pattern.test(l)).length,
  };
}

/** Resolves once no job is left in the queue (a handler has returned before BullMQ records the completion). */
async function drained(inspector: Queue): Promise<void> {
  for (;;) {
    const counts = await inspector.getJobCounts('wait', 'active', 'delayed', 'prioritized', 'completed', 'failed');
    if (Object.values(counts).every((n) => n === 0)) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe.skipIf(!storeEnabled('redis'))('BullMqJobQueue across processes', () => {
  const prefix = `airlock:test:${randomUUID()}`;
  const workers: WorkerProcess[] = [];
  let producer: BullMqJobQueue | undefined;
  let inspector: Queue | undefined;

  afterEach(async () => {
    await Promise.all(
      workers.splice(0).map(async ({ child }) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = once(child, 'exit');
        child.kill('SIGKILL');
        await exited;
      }),
    );
    await producer?.close();
    await inspector?.close();
    const admin = new Redis(REDIS_TEST_URL);
    const keys = await admin.keys(`${prefix}:*`);
    if (keys.length > 0) await admin.del(...keys);
    await admin.quit();
  });

  /** Two worker processes and, in this one, an instance that only enqueues (it registers no handler). */
  async function start(): Promise<{ a: WorkerProcess; b: WorkerProcess; queue: BullMqJobQueue; inspector: Queue }> {
    const a = startWorker('a', prefix);
    const b = startWorker('b', prefix);
    workers.push(a, b);
    await Promise.all([a.line(/^ready$/), b.line(/^ready$/)]);
    producer = new BullMqJobQueue({ url: REDIS_TEST_URL, prefix });
    inspector = new Queue(BULLMQ_QUEUE_NAME, { connection: { url: REDIS_TEST_URL }, prefix });
    return { a, b, queue: producer, inspector };
  }

  describe('when two worker processes consume one queue', () => {
    it('runs each job exactly once', async () => {
      const { a, b, queue, inspector } = await start();
      const ids: string[] = [];
      for (let i = 0; i < 40; i++) {
        const { id, added } = await queue.enqueue('quick', { i }, { key: `quick:${i}` });
        expect(added).toBe(true);
        ids.push(id);
      }
      const ran = await Promise.all(
        ids.map((id) => Promise.race([a.line(new RegExp(`^ran ${id}$`)).then(() => 'a'), b.line(new RegExp(`^ran ${id}$`)).then(() => 'b')])),
      );
      expect(ran).toHaveLength(40);
      // Once every job has left Redis nothing can run a second time, so the counts below are final.
      await drained(inspector);
      for (const id of ids) {
        const ranHere = new RegExp(`^ran ${id}$`);
        expect(a.count(ranHere) + b.count(ranHere), `runs of job ${id}`).toBe(1);
      }
    });
  });

  describe('when the process running a job is killed with SIGKILL', () => {
    it('has the other process run the job again once the lock lapses', async () => {
      const { a, b, queue, inspector } = await start();
      const { id } = await queue.enqueue('hold', { approvalId: 'ap1' }, { key: 'hold:ap1' });
      const started = new RegExp(`^started ${id}$`);
      const first = await Promise.race([a.line(started).then(() => a), b.line(started).then(() => b)]);
      const other = first === a ? b : a;
      const killed = once(first.child, 'exit');
      first.child.kill('SIGKILL');
      await killed;

      await other.line(started);
      other.child.stdin.write(`release ${id}\n`);
      await other.line(new RegExp(`^released ${id}$`));
      // Completed and gone: it ran once more, not twice more.
      await drained(inspector);
      expect(other.count(started)).toBe(1);
    });
  });

  describe('once Redis has gone away', () => {
    /** A queue whose Redis the test cuts; resolves once the queue has noticed (a reconnection was refused). */
    async function cutOff() {
      const proxy = await startTcpProxyTo(REDIS_TEST_URL);
      let noticed!: () => void;
      const redisGone = new Promise<void>((resolve) => (noticed = resolve));
      // A command timeout longer than the test's own: only answering at once can pass.
      const warn = (fields: { err?: unknown }) => {
        if (String(fields.err).includes('ECONNREFUSED')) noticed();
      };
      const queue = new BullMqJobQueue({ url: proxy.url, prefix, commandTimeoutMs: 120_000, logger: { warn, error: () => undefined } });
      queue.handle('noop', async () => undefined);
      await queue.enqueue('noop', {});
      await proxy.cut();
      await redisGone;
      return queue;
    }

    it('refuses enqueue, remove and depth at once with STORAGE_UNAVAILABLE instead of waiting out the timeout', async () => {
      const queue = await cutOff();
      for (const operation of [queue.enqueue('noop', {}), queue.remove('noop:1'), queue.depth()]) {
        await expect(operation).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE', message: expect.stringMatching(/Redis is unreachable/) });
      }
      await queue.close();
    });

    it('closes at once right after the connection drops, while the client waits to reconnect', async () => {
      const proxy = await startTcpProxyTo(REDIS_TEST_URL);
      // A short command timeout: a depth() sent before the client has seen the drop fails fast.
      const queue = new BullMqJobQueue({ url: proxy.url, prefix, commandTimeoutMs: 300, logger: { warn: () => undefined, error: () => undefined } });
      queue.handle('noop', async () => undefined);
      await queue.enqueue('noop', {});
      await proxy.cut();
      // The queue has seen the drop; its next attempt to reconnect is a second or more away.
      await expect.poll(() => queue.depth().then(() => 'reachable', (error: AirlockError) => error.code)).toBe('STORAGE_UNAVAILABLE');
      await queue.close();
      await expect(queue.enqueue('noop', {})).rejects.toThrow(/closed/);
    });

    it('closes at once, a worker included, instead of waiting for Redis to come back', async () => {
      const queue = await cutOff();
      // Without Redis a graceful close never resolves; the test's own timeout would fail it.
      await queue.close();
      await expect(queue.enqueue('noop', {})).rejects.toThrow(/closed/);
    });
  });
});
