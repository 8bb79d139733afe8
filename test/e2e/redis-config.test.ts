/**
 * `airlock serve` takes its Redis from the config file's `redis.url` when REDIS_URL is empty (DESIGN.md §6): readiness
 * checks that Redis and rate limits are counted in it.
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { REDIS_TEST_URL, storeEnabled } from '../contract/limit-store.contract.js';
import { connectClient, rawCall, startServeProcess, TEST_UPSTREAM, textOf, tsxCommand } from './helpers/gateway.js';

describe.skipIf(!storeEnabled('redis'))('redis.url in the config file', () => {
  let dir: string;
  const prefix = `airlock-redis-config-${randomUUID()}`;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'airlock-redis-config-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reaches readiness and the limit store when REDIS_URL is empty', async () => {
    const policy = { version: '1', default: 'allow', tools: { echo: { limits: [{ counter: 'echo_rate', window: 'hour', max: 100, scope: 'global' }] } } };
    await writeFile(join(dir, 'policy.json'), JSON.stringify(policy));
    await writeFile(
      join(dir, 'airlock.config.json'),
      JSON.stringify({ listen: { port: 0 }, servers: { test: tsxCommand(TEST_UPSTREAM) }, policy: 'policy.json', redis: { url: REDIS_TEST_URL } }),
    );
    const { child, url } = await startServeProcess(join(dir, 'airlock.config.json'), {
      AIRLOCK_DATA_DIR: join(dir, 'data'),
      DATABASE_URL: '',
      REDIS_URL: '',
      AIRLOCK_REDIS_PREFIX: prefix,
      AIRLOCK_INSTANCE_ID: 'redis-config',
      AIRLOCK_LOG_LEVEL: 'fatal',
    });
    const redis = new Redis(REDIS_TEST_URL);
    try {
      const ready = await fetch(`${url}/readyz`);
      expect(((await ready.json()) as { checks: Record<string, string> }).checks).toMatchObject({ redis: 'ok' });
      const client = await connectClient(`${url}/mcp`);
      try {
        expect(textOf(await rawCall(client, 'test__echo', { text: 'counted' }))).toBe('counted');
      } finally {
        await client.close();
      }
      expect(await redis.keys(`${prefix}:limits:*`)).not.toEqual([]);
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    }
  }, 60_000);
});
