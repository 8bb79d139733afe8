/**
 * PostgreSQL or Redis going away under a running gateway (the network path cut, the server itself untouched).
 * Without PostgreSQL, allowed calls keep flowing with their audit events kept in memory, calls that need the
 * database get a clear error naming it, and once PostgreSQL is back the kept events are written with the chain
 * intact and approvals work again; a gateway told to stop while PostgreSQL is still away hands the events it could
 * not store to its operator. Without Redis, a gateway told to stop does so at once, its audit log stored.
 */
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { verifyAuditLog } from '../../server/src/audit/verify.js';
import { openPgliteDb } from '../../server/src/db/pglite-db.js';
import { PostgresDb } from '../../server/src/db/postgres-db.js';
import { REDIS_TEST_URL } from '../contract/limit-store.contract.js';
import { TEST_DATABASE_URL } from '../contract/test-databases.js';
import { startTcpProxyTo, type TcpProxy } from '../fixtures/tcp-proxy.js';
import { ADMIN_TOKEN, pendingApprovalId, startApprovalGateway, type ApprovalGateway } from './helpers/approval-gateway.js';
import { rawCall, startServeProcess, TEST_UPSTREAM, textOf, tsxCommand } from './helpers/gateway.js';

const POLICY = { version: '1', default: 'allow', tools: { stamp: { action: 'require_approval', approval: { approvers: ['web:admin'] } } } };

describe('PostgreSQL unreachable while the gateway runs', () => {
  const MAX_BACKLOG = 6;
  let proxy: TcpProxy & { url: string };
  let gw: ApprovalGateway;
  let client: Client;
  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${gw.url}${path}`, { ...init, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json', ...init.headers } });

  const pending = () => pendingApprovalId(gw.service);

  beforeAll(async () => {
    proxy = await startTcpProxyTo(TEST_DATABASE_URL);
    gw = await startApprovalGateway('postgres', POLICY, { syncCap: '10m' }, {
      config: { audit: { maxBacklog: MAX_BACKLOG } },
      db: async (database) => new PostgresDb({ connectionString: proxy.url, searchPath: database.location, connectTimeoutMs: 2000 }),
    });
    client = await gw.connect();
  }, 60_000);
  // A test that fails while the path is cut must not take the next ones down with it.
  afterEach(() => proxy.restore());
  afterAll(async () => {
    await client?.close();
    await gw?.close();
    await proxy?.cut();
  });

  it('keeps serving allowed calls, refuses approvals clearly, and loses no audit event', async () => {
    expect(textOf(await rawCall(client, 'test__echo', { text: 'before' }))).toBe('before');
    await gw.audit.flush();

    await proxy.cut();

    // Policy, limits and forwarding need no database: the call runs, its audit events wait in memory.
    expect(textOf(await rawCall(client, 'test__echo', { text: 'during' }))).toBe('during');
    // Holding a call needs its approval row: the agent hears why, naming the database but not its credentials.
    const refused = await rawCall(client, 'test__stamp').then(
      () => undefined,
      (error: Error) => error,
    );
    expect(refused?.message).toMatch(/PostgreSQL at 127\.0\.0\.1:\d+\/test/);
    expect(refused?.message).toMatch(/unavailable|unreachable|refused/i);
    // The API says the same, as a 503 a client can retry.
    const listing = await api('/api/approvals');
    expect(listing.status).toBe(503);
    expect(JSON.stringify(await listing.json())).toMatch(/PostgreSQL at 127\.0\.0\.1:\d+\/test/);
    await expect(gw.audit.flush()).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
    expect(gw.audit.buffered).toBeGreaterThanOrEqual(3);

    await proxy.restore();

    await gw.audit.flush();
    expect(gw.audit.buffered).toBe(0);
    const verified = await verifyAuditLog(gw.database.db);
    expect(verified.problems).toEqual([]);
    const rows = await gw.database.db.query<{ kind: string; tool: string }>('SELECT kind, tool FROM audit_events ORDER BY seq');
    expect(rows).toEqual([
      { kind: 'allowed', tool: 'echo' },
      { kind: 'executed', tool: 'echo' },
      { kind: 'allowed', tool: 'echo' },
      { kind: 'executed', tool: 'echo' },
      { kind: 'denied', tool: 'stamp' },
    ]);

    // And holding calls works again.
    const call = rawCall(client, 'test__stamp');
    const id = await pending();
    expect((await api(`/api/approvals/${id}/decision`, { method: 'POST', body: JSON.stringify({ decision: 'approve' }) })).status).toBe(200);
    expect(textOf(await call)).toMatch(/^\d/);
  }, 60_000);

  it('keeps a call held while PostgreSQL is away; a decision refused meanwhile goes through once it is back', async () => {
    const call = rawCall(client, 'test__stamp', { attempt: 'held across the outage' });
    const id = await pending();

    await proxy.cut();
    const refused = await api(`/api/approvals/${id}/decision`, { method: 'POST', body: JSON.stringify({ decision: 'approve' }) });
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('STORAGE_UNAVAILABLE');

    await proxy.restore();
    expect((await api(`/api/approvals/${id}/decision`, { method: 'POST', body: JSON.stringify({ decision: 'approve' }) })).status).toBe(200);
    expect(textOf(await call)).toMatch(/^\d/);
    // The outcome is recorded just after the result goes back.
    await expect
      .poll(() => gw.database.db.query('SELECT status, execution_status FROM approvals WHERE id = $1', [id]))
      .toEqual([{ status: 'approved', execution_status: 'succeeded' }]);
  }, 60_000);

  it('refuses tool calls once its audit backlog is full, runs none of them, and records how many it refused', async () => {
    const echoRuns = async () => (JSON.parse(textOf(await rawCall(client, 'test__stats'))) as { calls: Record<string, number> }).calls.echo ?? 0;
    const ranBefore = await echoRuns();
    await gw.audit.flush();
    await proxy.cut();

    // Each allowed call leaves two events waiting: three calls fill a backlog of six.
    for (const text of ['one', 'two', 'three']) expect(textOf(await rawCall(client, 'test__echo', { text }))).toBe(text);
    const refusal = (await rawCall(client, 'test__echo', { text: 'refused' }).then(
      () => undefined,
      (error: Error) => error,
    )) as (Error & { data?: unknown }) | undefined;
    expect(refusal?.message).toMatch(
      /refuses tool calls while its audit log cannot be stored: the events waiting for the database reached the limit of 6 \(audit\.maxBacklog\), and the last write failed: PostgreSQL at 127\.0\.0\.1:\d+\/test is unavailable.*The call was not run/,
    );
    expect(refusal?.data).toEqual({ airlock: { code: 'STORAGE_UNAVAILABLE' } });
    await rawCall(client, 'test__stamp').catch(() => undefined);
    expect(gw.audit.buffered).toBe(MAX_BACKLOG + 1);

    await proxy.restore();
    await gw.audit.flush();
    expect(textOf(await rawCall(client, 'test__echo', { text: 'after' }))).toBe('after');
    expect(await echoRuns()).toBe(ranBefore + 4);
    const [counted] = await gw.database.db.query<{ canonical: string }>(
      `SELECT canonical FROM audit_events WHERE kind = 'denied' AND tool IS NULL ORDER BY seq DESC LIMIT 1`,
    );
    expect(JSON.parse(counted!.canonical)).toMatchObject({ detail: { refusedCalls: 2 } });
    expect((await verifyAuditLog(gw.database.db)).problems).toEqual([]);
  }, 60_000);
});

describe('airlock serve stopped while PostgreSQL is unreachable', () => {
  it('exits 1 without a stack trace, printing the audit events it could not store, redacted', async () => {
    const proxy = await startTcpProxyTo(TEST_DATABASE_URL);
    const throughProxy = new URL(proxy.url);
    const dir = await mkdtemp(join(tmpdir(), 'airlock-outage-'));
    const schema = `airlock_outage_${process.pid}_${Date.now()}`;
    const admin = new PostgresDb({ connectionString: TEST_DATABASE_URL, maxConnections: 1 });
    await admin.exec(`CREATE SCHEMA ${schema}`);
    throughProxy.searchParams.set('options', `-c search_path=${schema}`);
    try {
      await writeFile(join(dir, 'airlock.config.json'), JSON.stringify({ listen: { port: 0 }, servers: { test: tsxCommand(TEST_UPSTREAM) } }));
      const { child, url } = await startServeProcess(join(dir, 'airlock.config.json'), { DATABASE_URL: throughProxy.href, AIRLOCK_LOG_LEVEL: 'fatal' });
      let stderr = '';
      child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const client = new Client({ name: 'outage-e2e', version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`)));

      await proxy.cut();
      expect(textOf(await rawCall(client, 'test__echo', { text: 'during', token: 'sk-live-outage' }))).toBe('during');
      await client.close();
      child.kill('SIGTERM');
      const [status] = await once(child, 'exit');

      expect(status).toBe(1);
      expect(stderr).toMatch(/airlock: shutting down: PostgreSQL at 127\.0\.0\.1:\d+\/test is unavailable/);
      expect(stderr).not.toMatch(/^\s+at /m);
      const lines = stderr.split('\n');
      const header = lines.findIndex((line) => line === 'airlock: 2 audit events could not be stored before exit; they follow, one JSON object a line:');
      expect(header).toBeGreaterThan(-1);
      const events = lines.slice(header + 1, header + 3).map((line) => JSON.parse(line) as { kind: string; tool: string; args?: Record<string, unknown> });
      expect(events.map((event) => [event.kind, event.tool])).toEqual([
        ['allowed', 'echo'],
        ['executed', 'echo'],
      ]);
      expect(Object.keys(events[0]!.args!)).toEqual(['text', 'token']);
      expect(stderr).not.toContain('sk-live-outage');
    } finally {
      await proxy.cut();
      await admin.exec(`DROP SCHEMA ${schema} CASCADE`);
      await admin.close();
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('airlock serve without Redis', () => {
  let proxy: TcpProxy & { url: string };
  let dir: string;
  beforeEach(async () => {
    proxy = await startTcpProxyTo(REDIS_TEST_URL);
    dir = await mkdtemp(join(tmpdir(), 'airlock-outage-'));
    await writeFile(join(dir, 'airlock.config.json'), JSON.stringify({ listen: { port: 0 }, servers: { test: tsxCommand(TEST_UPSTREAM) } }));
  });
  afterEach(async () => {
    await proxy.cut();
    await rm(dir, { recursive: true, force: true });
  });
  /** `airlock serve` on PGlite in `dir`, reaching Redis through the proxy. */
  const serve = () =>
    startServeProcess(join(dir, 'airlock.config.json'), {
      AIRLOCK_DATA_DIR: join(dir, 'data'),
      REDIS_URL: proxy.url,
      AIRLOCK_REDIS_PREFIX: `airlock-outage-${process.pid}`,
      AIRLOCK_INSTANCE_ID: 'outage',
      AIRLOCK_LOG_LEVEL: 'fatal',
    });
  const call = async (url: string, text: string) => {
    const client = new Client({ name: 'outage-e2e', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`)));
    try {
      return textOf(await rawCall(client, 'test__echo', { text }));
    } finally {
      await client.close();
    }
  };

  it('starts while Redis is unreachable, says on /readyz what is missing, and is ready once Redis is back', async () => {
    await proxy.cut();
    const { child, url } = await serve();
    try {
      const readiness = async () => {
        const response = await fetch(`${url}/readyz`);
        return { status: response.status, checks: ((await response.json()) as { checks: Record<string, string> }).checks };
      };
      expect(await readiness()).toEqual({
        status: 503,
        checks: { database: 'ok', audit: 'ok', redis: `Redis at 127.0.0.1:${proxy.port} is unreachable: connect ECONNREFUSED 127.0.0.1:${proxy.port}` },
      });
      expect(await call(url, 'without Redis')).toBe('without Redis');

      await proxy.restore();
      await expect.poll(readiness, { timeout: 10_000 }).toEqual({ status: 200, checks: { database: 'ok', audit: 'ok', redis: 'ok' } });
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  }, 60_000);

  it('stops at once when Redis has gone away, its audit log stored', async () => {
    const { child, url } = await serve();
    await proxy.cut();
    expect(await call(url, 'during')).toBe('during');
    child.kill('SIGTERM');
    // The job queue once waited for Redis forever here; the test's timeout would fail it.
    const [status] = await once(child, 'exit');

    expect(status).toBe(0);
    const db = await openPgliteDb(join(dir, 'data'));
    try {
      expect((await verifyAuditLog(db)).ok).toBe(true);
      const rows = await db.query<{ kind: string; tool: string }>('SELECT kind, tool FROM audit_events ORDER BY seq');
      expect(rows).toEqual([
        { kind: 'allowed', tool: 'echo' },
        { kind: 'executed', tool: 'echo' },
      ]);
    } finally {
      await db.close();
    }
  }, 60_000);
});
