/**
 * Two gateway instances on one PostgreSQL and one Redis: a call held on A resumes the moment a human decides on
 * B; racing decisions on A and B for 100 approvals end with one winner each and nothing run twice.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';

import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ApprovalService } from '../../server/src/approval/approval-service.js';
import { AuditLog } from '../../server/src/audit/audit-log.js';
import { RedisEventBus } from '../../server/src/bus/redis-event-bus.js';
import { parseConfig } from '../../server/src/config/load.js';
import { createGateway, type Gateway } from '../../server/src/gateway/create-gateway.js';
import { MemoryLimitStore } from '../../server/src/limits/memory-limit-store.js';
import { createLogger } from '../../server/src/log/logger.js';
import { loadPolicy } from '../../server/src/policy/load.js';
import { systemClock } from '../../server/src/util/clock.js';
import { createTestDatabase, type TestDatabase } from '../contract/test-databases.js';
import { pendingApprovalId } from './helpers/approval-gateway.js';
import { connectClient, rawCall, TEST_UPSTREAM, textOf, tsxCommand } from './helpers/gateway.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const POLICY = { version: '1', default: 'allow', tools: { echo: { action: 'require_approval', approval: { approvers: ['web:alice', 'web:bob'] } } } };

interface Instance {
  gateway: Gateway;
  url: string;
  service: ApprovalService;
  audit: AuditLog;
  bus: RedisEventBus;
}

/** A redis-server of the test's own on a free loopback port, stopped and started again on the same port. */
async function startPrivateRedis(): Promise<{ url: string; start(): Promise<void>; stop(): Promise<void> }> {
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port: free } = probe.address() as AddressInfo;
      probe.close(() => resolve(free));
    });
  });
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'ignore'] });
    await new Promise<void>((resolve, reject) => {
      child!.stdout!.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('Ready to accept connections')) resolve();
      });
      child!.once('exit', (code) => reject(new Error(`redis-server exited with ${code}`)));
    });
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    start,
    async stop() {
      if (child && child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await once(child, 'exit');
      }
    },
  };
}

describe('two instances on PostgreSQL and Redis', () => {
  let database: TestDatabase;
  const instances: Instance[] = [];
  const channelPrefix = `airlock-test-${randomUUID()}:`;

  async function startInstance(name: string, redisUrl = REDIS_URL, recheckMs = 60_000): Promise<Instance> {
    const logger = createLogger('silent');
    const db = instances.length === 0 ? database.db : await database.connectAgain();
    const bus = new RedisEventBus({ url: redisUrl, channelPrefix, logger, connectionName: `scale-test-${name}` });
    const audit = new AuditLog(db, { flushDelayMs: 1 });
    const service = new ApprovalService({ db, audit, clock: systemClock, logger, instanceId: name, bus, recheckMs });
    await service.start();
    const loaded = loadPolicy(JSON.stringify(POLICY));
    if (!loaded.ok) throw new Error('test policy invalid');
    const config = parseConfig({ listen: { port: 0 }, servers: { test: tsxCommand(TEST_UPSTREAM) }, approvals: { syncCap: '10m' } }, 'test', {});
    const gateway = createGateway({ config, logger, policy: { current: () => loaded.policy }, limitStore: new MemoryLimitStore(), approvals: service, audit });
    const { url } = await gateway.listen();
    const instance = { gateway, url, service, audit, bus };
    instances.push(instance);
    return instance;
  }

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    await startInstance('A');
    await startInstance('B');
  }, 60_000);

  afterAll(async () => {
    for (const { gateway, service, audit, bus } of instances) {
      await service.close();
      await gateway.close();
      await audit.close();
      await bus.close();
    }
    await database?.destroy();
  });

  /** The one pending approval, seen through the given instance. */
  const pendingOn = (instance: Instance) => pendingApprovalId(instance.service);

  it('resumes a call held on A when B decides, with the upstream called once', async () => {
    const [a, b] = instances as [Instance, Instance];
    const client: Client = await connectClient(`${a.url}/mcp`);
    try {
      const call = rawCall(client, 'test__echo', { text: 'decided on B' });
      const id = await pendingOn(b);
      expect(await b.service.decide(id, { decision: 'approve' }, { id: 'web:alice', via: 'web' })).toMatchObject({ ok: true, final: true });
      expect(textOf(await call)).toBe('decided on B');
      expect(JSON.parse(textOf(await rawCall(client, 'test__stats'))).calls.echo).toBe(1);
    } finally {
      await client.close();
    }
  });

  it('tells listeners on every instance about a change made on another', async () => {
    const [a, b] = instances as [Instance, Instance];
    const seenOnA: string[] = [];
    const off = a.service.subscribe((event) => void seenOnA.push(`${event.type}:${event.approval.status}`));
    const client = await connectClient(`${b.url}/mcp`);
    try {
      const call = rawCall(client, 'test__echo', { text: 'watched from A' });
      await expect.poll(() => seenOnA).toContain('created:pending');
      const [approval] = await b.service.list({ status: 'pending' });
      await b.service.decide(approval!.id, { decision: 'reject', reason: 'no' }, { id: 'web:bob', via: 'web' });
      await expect.poll(() => seenOnA).toContain('decided:rejected');
      expect(textOf(await call)).toContain('Rejected by web:bob: no');
    } finally {
      off();
      await client.close();
    }
  });

  it('starts while Redis is down, and hears decisions from other instances once it is back', async () => {
    const redis = await startPrivateRedis();
    try {
      await redis.stop();
      // A re-read interval longer than the test: only the bus (or the catch-up once subscribed) can resume the call.
      const e = await startInstance('E', redis.url);
      const client = await connectClient(`${e.url}/mcp`);
      try {
        const call = rawCall(client, 'test__echo', { text: 'held while Redis was down' });
        await pendingOn(e);
        await redis.start();
        const f = await startInstance('F', redis.url);
        const id = await pendingOn(f);
        expect(await f.service.decide(id, { decision: 'approve' }, { id: 'web:alice', via: 'web' })).toMatchObject({ ok: true, final: true });
        expect(textOf(await call)).toBe('held while Redis was down');
      } finally {
        await client.close();
      }
    } finally {
      await redis.stop();
    }
  });

  it('resumes held calls decided while Redis was down and after it came back', async () => {
    // A Redis of this test's own, so restarting it disturbs no other test.
    const redis = await startPrivateRedis();
    try {
      // Short re-read interval: the safety net is what carries a decision made while the bus was down.
      const c = await startInstance('C', redis.url, 200);
      const d = await startInstance('D', redis.url, 200);
      const client = await connectClient(`${c.url}/mcp`);
      try {
        const duringOutage = rawCall(client, 'test__echo', { text: 'decided during the outage' });
        const firstId = await pendingOn(d);
        await redis.stop();
        expect(await d.service.decide(firstId, { decision: 'approve' }, { id: 'web:alice', via: 'web' })).toMatchObject({ ok: true, final: true });
        expect(textOf(await duringOutage)).toBe('decided during the outage');

        await redis.start();
        const afterRestart = rawCall(client, 'test__echo', { text: 'decided after the restart' });
        const secondId = await pendingOn(d);
        await d.service.decide(secondId, { decision: 'approve' }, { id: 'web:bob', via: 'web' });
        expect(textOf(await afterRestart)).toBe('decided after the restart');
        expect(await c.service.list({ status: 'pending' })).toEqual([]);
      } finally {
        await client.close();
      }
    } finally {
      await redis.stop();
    }
  }, 60_000);

  it('lets one of the racing decisions on A and B win for each of 100 approvals, running nothing twice', async () => {
    const [a, b] = instances as [Instance, Instance];
    const client = await connectClient(`${a.url}/mcp`);
    try {
      const before = JSON.parse(textOf(await rawCall(client, 'test__stats'))).calls.echo ?? 0;
      const calls = Array.from({ length: 100 }, (_, i) => rawCall(client, 'test__echo', { text: `race ${i}` }));
      await expect.poll(async () => (await a.service.list({ status: 'pending', limit: 1000 })).length, { timeout: 20_000 }).toBe(100);
      const pending = await a.service.list({ status: 'pending', limit: 1000 });
      const outcomes = await Promise.all(
        pending.flatMap((approval) => [
          a.service.decide(approval.id, { decision: 'approve' }, { id: 'web:alice', via: 'web' }),
          b.service.decide(approval.id, { decision: 'reject' }, { id: 'web:bob', via: 'web' }),
        ]),
      );
      expect(outcomes.filter((o) => o.ok && o.final)).toHaveLength(100);
      const results = await Promise.all(calls);
      const ran = results.filter((r) => !r.isError).length;
      const after = JSON.parse(textOf(await rawCall(client, 'test__stats'))).calls.echo;
      expect(after - before).toBe(ran);
      const approved = outcomes.filter((o) => o.ok && o.final && o.approval.status === 'approved').length;
      expect(ran).toBe(approved);
    } finally {
      await client.close();
    }
  }, 60_000);
});
