import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { REDIS_TEST_URL, storeEnabled } from '../../../test/contract/limit-store.contract.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

interface WorkerResult {
  admitted: number;
  firstSent: number;
  lastReply: number;
}

/** Starts test/fixtures/limit-worker.ts; `next()` is its next stdout line, or its stderr if it dies first. */
function startWorker(args: object) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/limit-worker.ts', JSON.stringify(args)], {
    cwd: ROOT,
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = once(child, 'exit');
  const stdout = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<string> => {
    const line = await stdout.next();
    if (line.done) throw new Error(`limit-worker exited: ${stderr}`);
    return line.value;
  };
  return { child, next, exited };
}

describe.skipIf(!storeEnabled('redis'))('RedisLimitStore across processes', () => {
  const prefix = `airlock:test:${randomUUID()}:`;

  afterEach(async () => {
    const admin = new Redis(REDIS_TEST_URL);
    const keys = await admin.keys(`${prefix}*`);
    if (keys.length > 0) await admin.del(...keys);
    await admin.quit();
  });

  describe('when 2 processes send 500 concurrent calls each against max 100', () => {
    it('admits exactly 100 in total', async () => {
      const args = { url: REDIS_TEST_URL, keyPrefix: prefix, key: 'calls:global', max: 100, calls: 500 };
      const workers = [startWorker(args), startWorker(args)];

      for (const { next } of workers) expect(await next()).toBe('ready');
      const startAt = Date.now() + 100;
      for (const { child } of workers) child.stdin.write(`${startAt}\n`);
      const results = await Promise.all(workers.map(async ({ next }) => JSON.parse(await next()) as WorkerResult));
      await Promise.all(workers.map(({ exited }) => exited));

      expect(results.reduce((sum, r) => sum + r.admitted, 0)).toBe(100);
      // The processes' calls were in flight at the same time: the contention really crossed processes.
      const [a, b] = results as [WorkerResult, WorkerResult];
      expect(a.firstSent < b.lastReply && b.firstSent < a.lastReply).toBe(true);
    });
  });
});
