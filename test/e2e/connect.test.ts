/**
 * `airlock connect <url>`: an agent that launches its servers as commands (Claude Desktop) reaches a running
 * `airlock serve` through it, so the gateway's approvals, grants and audit log apply, and a gateway restart does
 * not strand the agent.
 */
import { createHash } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport as V1StdioTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { verifyAuditLog } from '../../server/src/audit/verify.js';
import { openPgliteDb } from '../../server/src/db/pglite-db.js';
import { deliverInOrder } from '../../server/src/proxy/upstream/ordered-transport.js';
import { rawCall, ROOT, startServeProcess, TEST_UPSTREAM, textOf, tsxCommand } from './helpers/gateway.js';

const ADMIN_TOKEN = 'connect-test-admin-token';
const KEY = 'desk-key-0123456789';

/** A port free right now, so a restarted gateway can listen where the bridge already points. */
async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

describe('airlock connect (stdio to a running gateway)', () => {
  let dir: string;
  let configPath: string;
  let url: string;
  let gateway: ChildProcess | undefined;
  const clients: { close(): Promise<void> }[] = [];
  const env = () => ({ AIRLOCK_ADMIN_TOKEN: ADMIN_TOKEN, AIRLOCK_DATA_DIR: join(dir, 'data'), DATABASE_URL: '' });
  const api = (path: string, init?: RequestInit) =>
    fetch(`${url}/api${path}`, { ...init, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json', ...init?.headers } });

  const startGateway = async () => {
    const started = await startServeProcess(configPath, env());
    gateway = started.child;
    url = started.url;
  };
  const stopGateway = async () => {
    if (gateway && gateway.exitCode === null && gateway.signalCode === null) {
      gateway.kill('SIGTERM');
      await once(gateway, 'exit');
    }
  };
  const airlockConnect = (key: string | undefined, path = '/mcp') => ({
    command: process.execPath,
    args: [`${ROOT}bin/airlock.js`, 'connect', `${url}${path}`],
    env: { PATH: process.env.PATH ?? '', ...(key === undefined ? {} : { AIRLOCK_KEY: key }) },
    cwd: ROOT,
    stderr: 'pipe' as const,
  });
  const connect = async (key: string | undefined = KEY) => {
    const client = new Client({ name: 'desktop-like', version: '1.0.0' });
    await client.connect(new StdioClientTransport(airlockConnect(key)));
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'airlock-connect-'));
    const policy = { version: '1', default: 'allow', tools: { stamp: { action: 'require_approval', approval: { approvers: ['web:admin'] } } } };
    await writeFile(join(dir, 'policy.json'), JSON.stringify(policy));
    configPath = join(dir, 'airlock.config.json');
    const grants = [{ name: 'desk', agent: 'claude-desktop', key_sha256: createHash('sha256').update(KEY).digest('hex') }];
    await writeFile(
      configPath,
      JSON.stringify({ listen: { port: await freePort() }, servers: { test: tsxCommand(TEST_UPSTREAM) }, policy: 'policy.json', grants, approvals: { syncCap: '10m', heartbeat: '100ms' } }),
    );
    await startGateway();
  }, 60_000);
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close().catch(() => undefined)));
  });
  afterAll(async () => {
    await stopGateway();
  });

  it('holds a call for a human and returns the real result once approved; rejected calls are policy violations', async () => {
    const client = await connect();
    expect((await client.listTools()).tools.map((tool) => tool.name)).toContain('test__stamp');
    expect(textOf(await rawCall(client, 'test__echo', { text: 'through the bridge' }))).toBe('through the bridge');

    for (const decision of ['approve', 'reject'] as const) {
      const call = rawCall(client, 'test__stamp', { attempt: decision });
      let id = '';
      await expect
        .poll(async () => {
          const { approvals } = (await (await api('/approvals?status=pending')).json()) as { approvals: { id: string; grant: string }[] };
          id = approvals[0]?.id ?? '';
          return approvals[0]?.grant;
        })
        .toBe('desk');
      const decided = await api(`/approvals/${id}/decision`, { method: 'POST', body: JSON.stringify({ decision, reason: 'not today' }) });
      expect(decided.status).toBe(200);
      const result = await call;
      if (decision === 'approve') expect(textOf(result)).toMatch(/^\d/);
      else expect(result).toMatchObject({ isError: true, content: [{ text: expect.stringMatching(/^Policy violation:.*not today/s) }] });
    }
  }, 60_000);

  it('serves an SDK 1.x client too', async () => {
    const v1 = new V1Client({ name: 'v1', version: '1.0.0' });
    await v1.connect(new V1StdioTransport(airlockConnect(KEY)));
    clients.push(v1);
    const result = await v1.request({ method: 'tools/call', params: { name: 'test__echo', arguments: { text: 'v1' } } }, CallToolResultSchema);
    expect(result.content[0]).toMatchObject({ text: 'v1' });
  });

  it('serves an agent speaking 2026-07-28 over stdio, progress included', async () => {
    const modern = new Client({ name: 'modern', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' } });
    // The SDK client drops a progress notification that shares a pipe read with its result (see stdio.test.ts).
    await modern.connect(deliverInOrder(new StdioClientTransport(airlockConnect(KEY))));
    clients.push(modern);
    expect(modern.getNegotiatedProtocolVersion()).toBe('2026-07-28');
    const seen: unknown[] = [];
    expect(textOf(await rawCall(modern, 'test__progress', { steps: 2 }, { onprogress: (p) => void seen.push(p) }))).toBe('done 2 steps');
    expect(seen).toHaveLength(2);
  });

  it('fails the agent’s connect with an error naming HTTP 401 and AIRLOCK_KEY when the key is wrong', async () => {
    await expect(connect('not-the-key')).rejects.toThrow(/Airlock at http:\/\/127\.0\.0\.1:\d+\/mcp answered HTTP 401 \(check the key in AIRLOCK_KEY\)/);
  });

  it('answers a call with an error naming the gateway while it is down, and opens a new session once it is back', async () => {
    const client = await connect();
    expect(textOf(await rawCall(client, 'test__echo', { text: 'before' }))).toBe('before');

    await stopGateway();
    await expect(rawCall(client, 'test__echo', { text: 'while down' })).rejects.toMatchObject({
      code: -32603,
      message: expect.stringMatching(/^Airlock at http:\/\/127\.0\.0\.1:\d+\/mcp could not be reached: .*ECONNREFUSED/),
    });

    // The restarted gateway does not know the agent's session; the bridge opens a new one with the agent's initialize.
    await startGateway();
    expect(textOf(await rawCall(client, 'test__echo', { text: 'after the restart' }))).toBe('after the restart');
    expect((await client.listTools()).tools.map((tool) => tool.name)).toContain('test__echo');
  }, 60_000);

  it('answers a call whose stream the gateway dropped (killed mid-call) instead of leaving the agent waiting', async () => {
    const client = await connect();
    // A held call's stream is open once its first heartbeat has gone out.
    let heartbeat: () => void = () => undefined;
    const heard = new Promise<void>((resolve) => (heartbeat = resolve));
    const call = rawCall(client, 'test__stamp', { attempt: 'killed' }, { timeout: 10 * 60_000, onprogress: () => heartbeat() });
    await heard;
    // Listened for before the kill: the process may be gone before the agent hears about its call.
    const exited = once(gateway!, 'exit');
    gateway!.kill('SIGKILL');
    await expect(call).rejects.toMatchObject({
      code: -32603,
      message: expect.stringMatching(/^Airlock at http:\/\/127\.0\.0\.1:\d+\/mcp closed the call's stream without an answer; retry it/),
    });
    await exited;
    await startGateway();
  }, 60_000);

  it('records the grant the key maps to in the audit log, whose chain verifies', async () => {
    const client = await connect();
    expect(textOf(await rawCall(client, 'test__echo', { text: 'audited' }))).toBe('audited');
    await stopGateway();
    const db = await openPgliteDb(join(dir, 'data'));
    try {
      const rows = await db.query<{ grant_name: string; agent: string }>(`SELECT grant_name, agent FROM audit_events WHERE kind = 'allowed' AND tool = 'echo'`);
      expect(rows.length).toBeGreaterThan(0);
      expect(rows.every((row) => row.grant_name === 'desk' && row.agent === 'claude-desktop')).toBe(true);
      expect((await verifyAuditLog(db)).ok).toBe(true);
    } finally {
      await db.close();
    }
  }, 60_000);
});
