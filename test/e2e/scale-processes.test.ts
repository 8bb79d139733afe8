/**
 * The docker-compose topology as processes: three `airlock serve` instances on one PostgreSQL and one Redis (each
 * instance its own stdio upstream). A call held on A resumes when B's REST API approves it, and when a signed
 * Slack click lands on B; a limit of 100 holds exactly across the three; /readyz and /metrics answer.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { APPROVE_ACTION } from '../../slack-app/src/approval-message.js';
import { createTestDatabase, TEST_DATABASE_URL, type TestDatabase } from '../contract/test-databases.js';
import { blockActionsPayload, FakeSlack, postInteraction, signInteraction } from '../fixtures/fake-slack.js';
import { rawCall, startServeProcess, TEST_UPSTREAM, textOf, tsxCommand } from './helpers/gateway.js';

const ADMIN_TOKEN = 'scale-admin-token';
const SIGNING_SECRET = 'scale-signing-secret';
const BOT_TOKEN = 'xoxb-scale';
const CHANNEL = 'C0SCALE';
const ALICE = { id: 'UALICE', username: 'alice' };

const POLICY = {
  version: '1',
  default: 'allow',
  tools: {
    echo: { action: 'require_approval', approval: { approvers: ['web:admin', `slack:${ALICE.id}`] } },
    log: { limits: [{ counter: 'log_rate', window: 'hour', max: 100, scope: 'global' }] },
  },
};


async function connect(url: string): Promise<Client> {
  const client = new Client({ name: 'scale-e2e', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`)));
  return client;
}

describe('three gateway processes on PostgreSQL and Redis', () => {
  let database: TestDatabase;
  let fake: FakeSlack;
  const instances: { child: ChildProcess; url: string }[] = [];

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    fake = await FakeSlack.start(BOT_TOKEN);
    const dir = await mkdtemp(join(tmpdir(), 'airlock-scale-'));
    await writeFile(join(dir, 'policy.json'), JSON.stringify(POLICY));
    const configPath = join(dir, 'airlock.config.json');
    await writeFile(configPath, JSON.stringify({ listen: { port: 0 }, servers: { test: tsxCommand(TEST_UPSTREAM) }, policy: 'policy.json', approvals: { syncCap: '10m' } }));
    const env = {
      DATABASE_URL: `${TEST_DATABASE_URL}?options=${encodeURIComponent(`-c search_path=${database.location}`)}`,
      REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      AIRLOCK_REDIS_PREFIX: `airlock-scale-${randomUUID()}`,
      AIRLOCK_ADMIN_TOKEN: ADMIN_TOKEN,
      SLACK_BOT_TOKEN: BOT_TOKEN,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_APPROVAL_CHANNEL: CHANNEL,
      SLACK_API_URL: fake.url,
    };
    // One at a time: the first runs the migrations the others then find applied.
    for (let i = 0; i < 3; i += 1) instances.push(await startServeProcess(configPath, env));
  }, 90_000);

  afterAll(async () => {
    for (const { child } of instances) {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
    }
    await fake?.close();
    await database?.destroy();
  }, 60_000);

  const api = (url: string, path: string, init?: RequestInit) =>
    fetch(`${url}/api${path}`, { ...init, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json', ...init?.headers } });

  async function pendingId(url: string): Promise<string> {
    let id = '';
    await expect
      .poll(async () => {
        id = (((await (await api(url, '/approvals?status=pending')).json()) as { approvals: { id: string }[] }).approvals[0]?.id ?? '');
        return id;
      })
      .not.toBe('');
    return id;
  }

  it('resumes a call held on A when B’s API approves it; the upstream runs once', async () => {
    const [a, b] = [instances[0]!, instances[1]!];
    const client = await connect(a.url);
    try {
      const call = rawCall(client, 'test__echo', { text: 'approved on B' });
      const id = await pendingId(b.url);
      expect((await api(b.url, `/approvals/${id}/decision`, { method: 'POST', body: JSON.stringify({ decision: 'approve' }) })).status).toBe(200);
      expect(textOf(await call)).toBe('approved on B');
      expect(JSON.parse(textOf(await rawCall(client, 'test__stats'))).calls.echo).toBe(1);
    } finally {
      await client.close();
    }
  });

  it('resumes a call held on A when a signed Slack click lands on B; Slack got one message', async () => {
    const [a, b] = [instances[0]!, instances[1]!];
    const client = await connect(a.url);
    try {
      // The agent lists tools first, as agents do: the gateway learns the upstream's annotations for Slack's hints.
      await client.listTools();
      const before = fake.callsOf('chat.postMessage').filter((c) => c.args['thread_ts'] === undefined).length;
      const call = rawCall(client, 'test__echo', { text: 'clicked on B' });
      const request = await fake.waitFor('chat.postMessage', (c) => c.args['thread_ts'] === undefined && JSON.stringify(c.args['blocks']).includes('clicked on B'));
      const payload = blockActionsPayload({
        user: ALICE,
        channel: CHANNEL,
        message: { ts: String(request.response['ts']), text: request.args['text'], blocks: request.args['blocks'] },
        actionId: APPROVE_ACTION,
      });
      expect(JSON.stringify(request.args['blocks'])).toContain('Destructive, says the server');
      expect((await postInteraction(`${b.url}/slack/events`, signInteraction(payload, SIGNING_SECRET))).status).toBe(200);
      expect(textOf(await call)).toBe('clicked on B');
      // Every instance heard of the approval; the queue's keys let only one of them post it.
      expect(fake.callsOf('chat.postMessage').filter((c) => c.args['thread_ts'] === undefined).length).toBe(before + 1);
    } finally {
      await client.close();
    }
  });

  it('admits exactly 100 calls across three instances against a global limit of 100', async () => {
    const clients = await Promise.all(instances.map(({ url }) => connect(url)));
    try {
      const results = await Promise.all(Array.from({ length: 150 }, (_, i) => rawCall(clients[i % 3]!, 'test__log', { message: `call ${i}` })));
      const admitted = results.filter((r) => !r.isError).length;
      expect(admitted).toBe(100);
      expect(results.filter((r) => r.isError).every((r) => textOf(r).startsWith('Policy violation: rate limit "log_rate"'))).toBe(true);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  }, 60_000);

  it('reports readiness of PostgreSQL and Redis, and metrics', async () => {
    const ready = await fetch(`${instances[0]!.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', checks: { database: 'ok', redis: 'ok' } });
    const metrics = await (await fetch(`${instances[0]!.url}/metrics`)).text();
    expect(metrics).toContain('airlock_held_calls');
    expect(metrics).toMatch(/airlock_tool_calls_total\{outcome="executed"\} \d+/);
    expect(metrics).toMatch(/airlock_limiter_results_total\{result="(allowed|denied)"\} \d+/);
  });
});
