/**
 * The docker-compose topology as processes: `airlock serve` instances on one PostgreSQL and one Redis (each
 * instance its own stdio upstream). A call held on A resumes when B's REST API approves it, and when a signed
 * Slack click lands on B; a limit of 100 holds exactly across three instances; /readyz and /metrics answer. And
 * when A dies by SIGKILL with a call held, its approval's jobs (the Slack post, the expiry) still run once, on B:
 * whether A had handed them to BullMQ or only committed them to the outbox.
 */
import { type ChildProcess, execFile } from 'node:child_process';
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { type JobType, Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { EXPIRE_JOB } from '../../server/src/approval/approval-service.js';
import { BULLMQ_QUEUE_NAME } from '../../server/src/jobs/bullmq-job-queue.js';
import { APPROVE_ACTION } from '../../slack-app/src/approval-message.js';
import { createTestDatabase, TEST_DATABASE_URL, type TestDatabase } from '../contract/test-databases.js';
import { blockActionsPayload, FakeSlack, postInteraction, signInteraction, type SlackCall } from '../fixtures/fake-slack.js';
import { startTcpProxyTo } from '../fixtures/tcp-proxy.js';
import { passthrough, rawCall, ROOT, startServeProcess, TEST_UPSTREAM, textOf, tsxCommand } from './helpers/gateway.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
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

interface Cluster {
  configPath: string;
  /** What every instance runs with: the test's schema, one Redis prefix, the fake Slack. */
  env: Record<string, string>;
}

async function prepareCluster(database: TestDatabase, fake: FakeSlack): Promise<Cluster> {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-scale-'));
  await writeFile(join(dir, 'policy.json'), JSON.stringify(POLICY));
  const configPath = join(dir, 'airlock.config.json');
  await writeFile(configPath, JSON.stringify({ listen: { port: 0 }, servers: { test: tsxCommand(TEST_UPSTREAM) }, policy: 'policy.json', approvals: { syncCap: '10m' } }));
  const env = {
    DATABASE_URL: `${TEST_DATABASE_URL}?options=${encodeURIComponent(`-c search_path=${database.location}`)}`,
    REDIS_URL,
    AIRLOCK_REDIS_PREFIX: `airlock-scale-${randomUUID()}`,
    AIRLOCK_ADMIN_TOKEN: ADMIN_TOKEN,
    SLACK_BOT_TOKEN: BOT_TOKEN,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_APPROVAL_CHANNEL: CHANNEL,
    SLACK_API_URL: fake.url,
  };
  return { configPath, env };
}

async function stopAll(children: ChildProcess[], signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill(signal);
      await once(child, 'exit');
    }
  }
}

const api = (url: string, path: string, init?: RequestInit) =>
  fetch(`${url}/api${path}`, { ...init, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json', ...init?.headers } });

/** The pending approval (of the call whose arguments hold `text`, when given), once an instance shows it. */
async function pendingId(url: string, text = ''): Promise<string> {
  let id = '';
  await expect
    .poll(
      async () => {
        const { approvals } = (await (await api(url, '/approvals?status=pending')).json()) as { approvals: { id: string; args: unknown }[] };
        id = approvals.find((approval) => JSON.stringify(approval.args).includes(text))?.id ?? '';
        return id;
      },
      { timeout: 10_000 },
    )
    .not.toBe('');
  return id;
}

describe('three gateway processes on PostgreSQL and Redis', () => {
  let database: TestDatabase;
  let fake: FakeSlack;
  const instances: { child: ChildProcess; url: string }[] = [];

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    fake = await FakeSlack.start(BOT_TOKEN);
    const { configPath, env } = await prepareCluster(database, fake);
    // One at a time: the first runs the migrations the others then find applied.
    for (let i = 0; i < 3; i += 1) instances.push(await startServeProcess(configPath, env));
  }, 90_000);

  afterAll(async () => {
    await stopAll(instances.map(({ child }) => child));
    await fake?.close();
    await database?.destroy();
  }, 60_000);

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
      // Every instance heard of the approval; only A, which made it, wrote the job that posts it.
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

  it('continues a 2026 client’s call held on A when its retry lands on C: the instances share the sealing key', async () => {
    const [a, c] = [instances[0]!, instances[2]!];
    const modern = async (url: string) => {
      const client = new Client({ name: 'scale-e2e', version: '1.0.0' }, { capabilities: { elicitation: {} }, versionNegotiation: { mode: 'auto' } });
      await client.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`)));
      return client;
    };
    const [onA, onC] = [await modern(a.url), await modern(c.url)];
    try {
      const params = { name: 'test__elicit', arguments: { message: 'which instance?' } };
      const first = (await onA.request({ method: 'tools/call', params }, passthrough, { allowInputRequired: true })) as { resultType?: string; requestState?: string };
      expect(first.resultType).toBe('input_required');
      const inputResponses = { 'input-1': { action: 'accept', content: { answer: 'A holds it' } } };
      const done = await onC.request({ method: 'tools/call', params: { ...params, inputResponses, requestState: first.requestState } }, passthrough);
      expect(textOf(done as Record<string, unknown>)).toContain('A holds it');
      const elicitRuns = async (client: Client) => (JSON.parse(textOf(await rawCall(client, 'test__stats'))) as { calls: Record<string, number> }).calls.elicit ?? 0;
      expect([await elicitRuns(onA), await elicitRuns(onC)]).toEqual([1, 0]);
    } finally {
      await onA.close();
      await onC.close();
    }
  });

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

describe('a gateway process killed with SIGKILL while its approval’s jobs wait', () => {
  let database: TestDatabase;
  let fake: FakeSlack;
  let cluster: Cluster;
  /** The gateways' own BullMQ queue: the test looks into it, and promotes delayed jobs as the clock would. */
  let jobs: Queue;
  let b: { child: ChildProcess; url: string };
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    fake = await FakeSlack.start(BOT_TOKEN);
    cluster = await prepareCluster(database, fake);
    jobs = new Queue(BULLMQ_QUEUE_NAME, { connection: { url: REDIS_URL }, prefix: cluster.env['AIRLOCK_REDIS_PREFIX']! });
    b = await startServeProcess(cluster.configPath, cluster.env);
    children.push(b.child);
  }, 90_000);

  afterAll(async () => {
    // Whatever a failed test left running, A with its Redis cut included, goes as it came to: killed.
    await stopAll(children, 'SIGKILL');
    await jobs?.obliterate({ force: true });
    await jobs?.close();
    await fake?.close();
    await database?.destroy();
  }, 60_000);

  /** Starts A, holds a call on it (the call dies with A), and answers A and the approval's id. */
  async function holdOnA(env: Record<string, string> = {}, beforeCall: () => Promise<void> = async () => {}) {
    const a = await startServeProcess(cluster.configPath, { ...cluster.env, ...env });
    children.push(a.child);
    await beforeCall();
    const client = await connect(a.url);
    const text = `held on A ${randomUUID()}`;
    void rawCall(client, 'test__echo', { text }).catch(() => undefined);
    return { a, id: await pendingId(b.url, text) };
  }

  async function kill(child: ChildProcess): Promise<void> {
    child.kill('SIGKILL');
    await once(child, 'exit');
  }

  const requestPosts = (id: string): SlackCall[] =>
    fake.callsOf('chat.postMessage').filter((c) => c.args['thread_ts'] === undefined && JSON.stringify(c.args).includes(id));

  /** The kinds of the approval's jobs in BullMQ, in these states (default: any not finished). */
  async function jobKinds(id: string, states: JobType[] = ['waiting', 'delayed', 'active', 'prioritized']): Promise<string[]> {
    const found = await jobs.getJobs(states);
    return found.filter((job) => JSON.stringify(job.data).includes(id)).map((job) => job.name).sort();
  }

  const outboxOf = (id: string) =>
    database.db.query<{ kind: string; done: boolean }>(`SELECT kind, done FROM outbox WHERE payload->>'approvalId' = $1 ORDER BY id`, [id]);

  /** The approval's deadline passes: the expiry job due, its handler past expires_at (it compares the two). */
  async function passDeadline(id: string): Promise<void> {
    await database.db.query(`UPDATE approvals SET expires_at = now() - interval '1 second' WHERE id = $1`, [id]);
    await jobs.promoteJobs();
  }

  async function expectPostedAndExpiredOnce(id: string): Promise<void> {
    const statusOf = async () => (await database.db.query<{ status: string }>('SELECT status FROM approvals WHERE id = $1', [id]))[0]?.status;
    await expect.poll(statusOf, { timeout: 30_000 }).toBe('expired');
    await expect.poll(() => requestPosts(id).filter((c) => c.ok).length, { timeout: 30_000 }).toBe(1);
    // Nothing is left that could post it or expire it again: no job waits in BullMQ, no row in the outbox.
    await expect.poll(async () => [...(await jobKinds(id)), ...(await outboxOf(id)).filter((row) => !row.done).map((row) => row.kind)], { timeout: 30_000 }).toEqual([]);
    expect(requestPosts(id).filter((c) => c.ok)).toHaveLength(1);
    const audit = await database.db.query<{ kind: string }>('SELECT kind FROM audit_events WHERE approval_id = $1 ORDER BY seq', [id]);
    expect(audit.map((row) => row.kind)).toEqual(['approval_requested', 'expired']);
    const verified = await promisify(execFile)(process.execPath, [`${ROOT}bin/airlock.js`, 'audit', 'verify', '--json'], { env: { ...process.env, ...cluster.env } });
    expect(JSON.parse(verified.stdout)).toMatchObject({ ok: true, problems: [] });
  }

  it('B posts to Slack and expires the approval once when A dies with both jobs waiting in BullMQ', async () => {
    // Slack says to come back in an hour: the post waits for its retry, the expiry for its deadline.
    fake.fail('chat.postMessage', { status: 429, retryAfter: 3600 });
    const { a, id } = await holdOnA();
    await expect.poll(() => requestPosts(id).map((c) => c.status), { timeout: 30_000 }).toEqual([429]);
    await expect.poll(() => jobKinds(id, ['delayed']), { timeout: 30_000 }).toEqual([EXPIRE_JOB, 'slack.post']);
    await expect.poll(() => outboxOf(id)).toEqual([{ kind: 'slack.post', done: true }, { kind: EXPIRE_JOB, done: true }]);

    await kill(a.child);
    await passDeadline(id);
    await expectPostedAndExpiredOnce(id);
  }, 90_000);

  it('B hands over and runs the jobs of a change A committed but never queued (its Redis cut), once A is dead', async () => {
    const proxy = await startTcpProxyTo(REDIS_URL);
    // A reaches Redis through the proxy, and loses it once it is up: its commits reach PostgreSQL, its jobs nothing.
    const { a, id } = await holdOnA({ REDIS_URL: proxy.url, AIRLOCK_LOG_LEVEL: 'fatal' }, () => proxy.cut());
    await expect.poll(() => outboxOf(id)).toEqual([{ kind: 'slack.post', done: false }, { kind: EXPIRE_JOB, done: false }]);
    await kill(a.child);
    // Died between commit and enqueue: the rows are all that is left of its jobs (B leaves fresh rows to their writer).
    expect(await outboxOf(id)).toEqual([{ kind: 'slack.post', done: false }, { kind: EXPIRE_JOB, done: false }]);
    expect(requestPosts(id)).toEqual([]);
    expect(await jobKinds(id)).toEqual([]);

    // B's sweep finds them once they are older than its interval.
    await expect.poll(async () => (await outboxOf(id)).map((row) => row.done), { timeout: 30_000 }).toEqual([true, true]);
    await expect.poll(() => requestPosts(id).filter((c) => c.ok).length, { timeout: 30_000 }).toBe(1);
    await passDeadline(id);
    await expectPostedAndExpiredOnce(id);
  }, 90_000);
});
