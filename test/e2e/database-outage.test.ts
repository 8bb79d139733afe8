/**
 * PostgreSQL going away under a running gateway (the network path cut, the server itself untouched): allowed calls
 * keep flowing with their audit events kept in memory, calls that need the database get a clear error naming it,
 * and once PostgreSQL is back the kept events are written with the chain intact and approvals work again.
 */
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { verifyAuditLog } from '../../server/src/audit/verify.js';
import { PostgresDb } from '../../server/src/db/postgres-db.js';
import { TEST_DATABASE_URL } from '../contract/test-databases.js';
import { startTcpProxy, type TcpProxy } from '../fixtures/tcp-proxy.js';
import { ADMIN_TOKEN, startApprovalGateway, type ApprovalGateway } from './helpers/approval-gateway.js';
import { rawCall, textOf } from './helpers/gateway.js';

const POLICY = { version: '1', default: 'allow', tools: { stamp: { action: 'require_approval', approval: { approvers: ['web:admin'] } } } };

describe('PostgreSQL unreachable while the gateway runs', () => {
  let proxy: TcpProxy;
  let gw: ApprovalGateway;
  let client: Client;
  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${gw.url}${path}`, { ...init, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json', ...init.headers } });

  beforeAll(async () => {
    const server = new URL(TEST_DATABASE_URL);
    proxy = await startTcpProxy({ host: server.hostname, port: Number(server.port || 5432) });
    const throughProxy = new URL(TEST_DATABASE_URL);
    throughProxy.hostname = '127.0.0.1';
    throughProxy.port = String(proxy.port);
    gw = await startApprovalGateway('postgres', POLICY, { syncCap: '10m' }, {
      db: async (database) => new PostgresDb({ connectionString: throughProxy.href, searchPath: database.location, connectTimeoutMs: 2000 }),
    });
    client = await gw.connect();
  }, 60_000);
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
    let id = '';
    await expect
      .poll(async () => {
        id = (await gw.service.list({ status: 'pending' }))[0]?.id ?? '';
        return id;
      })
      .not.toBe('');
    expect((await api(`/api/approvals/${id}/decision`, { method: 'POST', body: JSON.stringify({ decision: 'approve' }) })).status).toBe(200);
    expect(textOf(await call)).toMatch(/^\d/);
  }, 60_000);
});
