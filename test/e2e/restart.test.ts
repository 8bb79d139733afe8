/**
 * A gateway killed with SIGKILL while 50 calls are held loses nothing: after restart no approval is stuck
 * pending (they are abandoned, with the reason), every audit row is there and the chain verifies, and a decision
 * made after the restart applies to the agent's retry of the identical call, which runs once. A gateway stopped
 * with SIGTERM does the same, and first tells each agent that its call awaits approval instead of dropping it.
 * Scaled (several instances on one PostgreSQL and Redis), an instance stopped with SIGTERM abandons the approvals
 * it held as it stops, even without a name that survives a restart (AIRLOCK_INSTANCE_ID), and no other's.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';

import { hashJson } from '../../server/src/util/canonical-json.js';
import { verifyAuditLog } from '../../server/src/audit/verify.js';
import { openPgliteDb } from '../../server/src/db/pglite-db.js';
import { createTestDatabase, TEST_DATABASE_URL, TEST_DIALECTS, type TestDatabase } from '../contract/test-databases.js';
import { rawCall, startServeProcess, TEST_UPSTREAM, textOf, tsxCommand } from './helpers/gateway.js';

const HELD = 50;
const ADMIN_TOKEN = 'restart-test-admin-token';


async function connect(url: string): Promise<Client> {
  const client = new Client({ name: 'restart-e2e', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`)));
  return client;
}

describe.each(TEST_DIALECTS)('a SIGKILL while %s-backed calls are held', (dialect) => {
  const scenario = scenarioResources();

  it('leaves no approval pending, loses no audit row, and lets a later decision run the retry once', async () => {
    const { dir, configPath, env } = await setUp(dialect, (created) => (scenario.database = created));
    const first = await startServeProcess(configPath, { AIRLOCK_ADMIN_TOKEN: ADMIN_TOKEN, ...env });
    scenario.children.push(first.child);
    const client = await connect(first.url);
    const held = Array.from({ length: HELD }, (_, i) => rawCall(client, 'test__echo', { text: `held ${i}` }).catch((error: Error) => error));
    await expect
      .poll(async () => ((await (await api(first.url)('/approvals?status=pending&limit=1000')).json()) as { approvals: unknown[] }).approvals.length, { timeout: 20_000 })
      .toBe(HELD);

    first.child.kill('SIGKILL');
    await once(first.child, 'exit');
    // The client learns its calls are gone when its transport closes.
    await client.close().catch(() => undefined);
    expect((await Promise.all(held)).every((outcome) => outcome instanceof Error)).toBe(true);

    const second = await startServeProcess(configPath, { AIRLOCK_ADMIN_TOKEN: ADMIN_TOKEN, ...env });
    scenario.children.push(second.child);
    const secondApi = api(second.url);
    expect(((await (await secondApi('/approvals?status=pending')).json()) as { approvals: unknown[] }).approvals).toEqual([]);
    const abandoned = ((await (await secondApi('/approvals?status=abandoned&limit=1000')).json()) as { approvals: { id: string; reason: string; args: unknown }[] }).approvals;
    expect(abandoned).toHaveLength(HELD);
    expect(abandoned[0]!.reason).toContain('restarted');

    // Decide one abandoned approval after the restart, as the console would; the agent retries the identical call.
    const target = abandoned[0]!;
    const decided = await secondApi(`/approvals/${target.id}/decision`, { method: 'POST', body: JSON.stringify({ decision: 'approve' }) });
    expect(decided.status).toBe(200);
    const retry = await connect(second.url);
    try {
      const text = await findHeldText(second.url, target.id);
      expect(textOf(await rawCall(retry, 'test__echo', { text }))).toBe(text);
      expect(JSON.parse(textOf(await rawCall(retry, 'test__stats'))).calls.echo).toBe(1);
    } finally {
      await retry.close();
    }
    second.child.kill('SIGTERM');
    await once(second.child, 'exit');

    expect(await auditCounts(scenario.database, dir)).toEqual({ requested: HELD, abandoned: HELD, cancelled: 0, approved: 1, executed: 1, valid: true });
  }, 120_000);
});

describe.each(TEST_DIALECTS)('a SIGTERM while %s-backed calls are held', (dialect) => {
  const scenario = scenarioResources();

  it('tells each agent its call awaits approval, cancels nothing, and lets a decision after the restart run the retry once', async () => {
    const count = 3;
    const { dir, configPath, env } = await setUp(dialect, (created) => (scenario.database = created));
    const first = await startServeProcess(configPath, { AIRLOCK_ADMIN_TOKEN: ADMIN_TOKEN, ...env });
    scenario.children.push(first.child);
    const client = await connect(first.url);
    const held = Array.from({ length: count }, (_, i) => rawCall(client, 'test__echo', { text: `held ${i}` }));
    await expect
      .poll(async () => ((await (await api(first.url)('/approvals?status=pending')).json()) as { approvals: unknown[] }).approvals.length, { timeout: 20_000 })
      .toBe(count);

    // Listened for before the signal: the process may be gone before every answer is read.
    const exited = once(first.child, 'exit');
    first.child.kill('SIGTERM');
    const answers = await Promise.all(held);
    expect((await exited)[0]).toBe(0);
    await client.close().catch(() => undefined);
    for (const answer of answers) {
      expect(answer.isError).toBe(true);
      expect(textOf(answer)).toMatch(/^Policy violation: Airlock is shutting down, and this call awaits human approval \(id [0-9a-f-]{36}\)/);
      expect(textOf(answer)).toContain('retry the identical call: it will run once');
    }

    const second = await startServeProcess(configPath, { AIRLOCK_ADMIN_TOKEN: ADMIN_TOKEN, ...env });
    scenario.children.push(second.child);
    const abandoned = ((await (await api(second.url)('/approvals?status=abandoned')).json()) as { approvals: { id: string }[] }).approvals;
    expect(abandoned).toHaveLength(count);
    const target = abandoned[0]!;
    expect((await api(second.url)(`/approvals/${target.id}/decision`, { method: 'POST', body: JSON.stringify({ decision: 'approve' }) })).status).toBe(200);
    const retry = await connect(second.url);
    try {
      const text = await findHeldText(second.url, target.id);
      expect(textOf(await rawCall(retry, 'test__echo', { text }))).toBe(text);
      expect(JSON.parse(textOf(await rawCall(retry, 'test__stats'))).calls.echo).toBe(1);
    } finally {
      await retry.close();
    }
    second.child.kill('SIGTERM');
    await once(second.child, 'exit');

    expect(await auditCounts(scenario.database, dir)).toEqual({ requested: count, abandoned: count, cancelled: 0, approved: 1, executed: 1, valid: true });
  }, 120_000);
});

describe('a SIGTERM while calls are held on one of two scaled instances without AIRLOCK_INSTANCE_ID', () => {
  const scenario = scenarioResources();

  it('abandons that instance\'s approvals as it stops, with the reason, and leaves the other instance\'s held call pending', async () => {
    const { dir, configPath, env } = await setUp('postgres', (created) => (scenario.database = created));
    const scaled = { ...env, AIRLOCK_ADMIN_TOKEN: ADMIN_TOKEN, REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', AIRLOCK_REDIS_PREFIX: `airlock-restart-${process.pid}-${Date.now()}`, AIRLOCK_INSTANCE_ID: '' };
    const [a, b] = await Promise.all([startServeProcess(configPath, scaled), startServeProcess(configPath, scaled)]);
    scenario.children.push(a.child, b.child);
    const onA = await connect(a.url);
    const onB = await connect(b.url);
    const heldOnA = [0, 1].map((i) => rawCall(onA, 'test__echo', { text: `held ${i}` }));
    const heldOnB = rawCall(onB, 'test__echo', { text: 'held 2' }).catch((error: Error) => error);
    const pending = async () => ((await (await api(b.url)('/approvals?status=pending')).json()) as { approvals: { id: string; argsHash: string }[] }).approvals;
    await expect.poll(async () => (await pending()).length, { timeout: 20_000 }).toBe(3);
    // A review page on B, which hears of A's abandonment the moment it happens.
    const stream = new WebSocket(`${b.url.replace('http', 'ws')}/api/stream`, ['airlock', `bearer.${ADMIN_TOKEN}`]);
    const heardOnB: string[] = [];
    stream.addEventListener('message', (event) => {
      const message = JSON.parse(String(event.data)) as { type: string; approval?: { argsHash: string; status: string } };
      if (message.approval) heardOnB.push(`${message.type}:${message.approval.status}:${message.approval.argsHash}`);
    });
    await new Promise((resolve) => stream.addEventListener('open', resolve));

    const exited = once(a.child, 'exit');
    a.child.kill('SIGTERM');
    await Promise.all(heldOnA);
    expect((await exited)[0]).toBe(0);
    await onA.close().catch(() => undefined);

    const abandoned = ((await (await api(b.url)('/approvals?status=abandoned')).json()) as { approvals: { argsHash: string; reason: string; decidedBy: string }[] }).approvals;
    expect(abandoned.map((approval) => approval.argsHash).sort()).toEqual([hashJson({ text: 'held 0' }), hashJson({ text: 'held 1' })].sort());
    for (const approval of abandoned) {
      expect(approval).toMatchObject({ decidedBy: 'system', reason: 'the gateway stopped while the call was held; a decision still applies to the identical retry' });
    }
    expect((await pending()).map((approval) => approval.argsHash)).toEqual([hashJson({ text: 'held 2' })]);
    await expect
      .poll(() => [...heardOnB].sort())
      .toEqual([`abandoned:abandoned:${hashJson({ text: 'held 0' })}`, `abandoned:abandoned:${hashJson({ text: 'held 1' })}`].sort());
    stream.close();

    const bExited = once(b.child, 'exit');
    b.child.kill('SIGTERM');
    await heldOnB;
    expect((await bExited)[0]).toBe(0);
    await onB.close().catch(() => undefined);
    expect(await auditCounts(scenario.database, dir)).toEqual({ requested: 3, abandoned: 3, cancelled: 0, approved: 0, executed: 0, valid: true });
  }, 120_000);
});

/** A policy that holds every echo call, a config using it, and the storage environment of `dialect`. */
/** The gateway processes and the database one scenario starts: killed and dropped after it, whatever happened. */
function scenarioResources(): { database: TestDatabase | undefined; children: ChildProcess[] } {
  const scenario = { database: undefined as TestDatabase | undefined, children: [] as ChildProcess[] };
  afterAll(async () => {
    for (const child of scenario.children) if (child.exitCode === null) child.kill('SIGKILL');
    await scenario.database?.destroy();
  });
  return scenario;
}

async function setUp(dialect: string, created: (database: TestDatabase) => void): Promise<{ dir: string; configPath: string; env: Record<string, string> }> {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-restart-'));
  const policy = { version: '1', default: 'allow', tools: { echo: { action: 'require_approval', approval: { approvers: ['web:admin'] } } } };
  await writeFile(join(dir, 'policy.json'), JSON.stringify(policy));
  const configPath = join(dir, 'airlock.config.json');
  await writeFile(configPath, JSON.stringify({ listen: { port: 0 }, servers: { test: tsxCommand(TEST_UPSTREAM) }, policy: 'policy.json', approvals: { syncCap: '10m' } }));
  // Storage is chosen by the environment, as in production: DATABASE_URL, else the PGlite data dir.
  if (dialect === 'postgres') {
    const database = await createTestDatabase('postgres');
    created(database);
    return { dir, configPath, env: { DATABASE_URL: `${TEST_DATABASE_URL}?options=${encodeURIComponent(`-c search_path=${database.location}`)}`, AIRLOCK_DATA_DIR: '' } };
  }
  return { dir, configPath, env: { AIRLOCK_DATA_DIR: join(dir, 'data'), DATABASE_URL: '' } };
}

function api(url: string) {
  return (path: string, init?: RequestInit) =>
    fetch(`${url}/api${path}`, { ...init, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json', ...init?.headers } });
}

/** What the audit log of the scenario holds once the gateway has stopped, and whether its chain verifies. */
async function auditCounts(database: TestDatabase | undefined, dir: string) {
  const db = database?.db ?? (await openPgliteDb(join(dir, 'data')));
  try {
    const [kinds] = await db.query<Record<string, number>>(
      `SELECT count(*) FILTER (WHERE kind = 'approval_requested')::int AS requested, count(*) FILTER (WHERE kind = 'abandoned')::int AS abandoned,
              count(*) FILTER (WHERE kind = 'cancelled')::int AS cancelled, count(*) FILTER (WHERE kind = 'approved')::int AS approved,
              count(*) FILTER (WHERE kind = 'executed' AND tool = 'echo')::int AS executed
       FROM audit_events`,
    );
    return { ...kinds, valid: (await verifyAuditLog(db)).ok };
  } finally {
    if (!database) await db.close();
  }
}

/**
 * Approvals keep only hashes of argument values, so the test finds which held call an approval belongs to the way
 * the gateway would: by its binding.
 */
async function findHeldText(url: string, id: string): Promise<string> {
  const approval = (await (await fetch(`${url}/api/approvals/${id}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as {
    grant: string;
    policyVersion: string;
    argsHash: string;
  };
  const match = Array.from({ length: HELD }, (_, i) => `held ${i}`).find((text) => hashJson({ text }) === approval.argsHash);
  if (!match) throw new Error(`no held call matches approval ${id}`);
  return match;
}
