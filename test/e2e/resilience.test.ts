/**
 * Bad input and failing upstreams: each gets a clear error naming what is wrong, and the gateway keeps serving.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { request } from 'node:http';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { Client } from '@modelcontextprotocol/client';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';

import { parseConfig } from '../../server/src/config/load.js';
import { connectClient, rawCall, ROOT, startGateway, startHttpUpstream, TEST_UPSTREAM, textOf, tsxCommand, type RunningGateway } from './helpers/gateway.js';

const MCP_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

describe('bad HTTP input', () => {
  let gw: RunningGateway;
  beforeAll(async () => {
    gw = await startGateway({ servers: { test: tsxCommand(TEST_UPSTREAM) } });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('answers malformed JSON with a JSON-RPC parse error', async () => {
    const response = await fetch(`${gw.url}/mcp`, { method: 'POST', headers: MCP_HEADERS, body: '{"jsonrpc": "2.0", "id": 1, "method": ' });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: -32700, message: expect.stringContaining('not valid JSON') } });
  });

  it('answers an unknown session id with 404', async () => {
    const response = await fetch(`${gw.url}/mcp`, {
      method: 'POST',
      headers: { ...MCP_HEADERS, 'mcp-session-id': 'no-such-session' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: { message: expect.stringContaining('Session not found') } });
  });

  it('refuses a 10 MB request body with 413 and names the limit', async () => {
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'test__echo', arguments: { text: 'x'.repeat(10 * 1024 * 1024) } } });
    const response = await fetch(`${gw.url}/mcp`, { method: 'POST', headers: MCP_HEADERS, body });
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ error: { code: -32600, message: expect.stringContaining('4mb') } });
  });

  it('refuses a request whose Host is not this gateway (DNS rebinding)', async () => {
    // fetch() will not send a foreign Host header; a raw request does, as a rebinding browser would.
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${gw.url}/mcp`, { method: 'POST', headers: { ...MCP_HEADERS, host: 'evil.example' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.once('error', reject);
      req.end(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }));
    });
    expect(status).toBe(403);
  });

  it('answers a non-initialize first request without a session with 400', async () => {
    const response = await fetch(`${gw.url}/mcp`, { method: 'POST', headers: MCP_HEADERS, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }) });
    expect(response.status).toBe(400);
  });

  it('answers an unknown server path with 404 naming the configured ones', async () => {
    const response = await fetch(`${gw.url}/mcp/nope`, { method: 'POST', headers: MCP_HEADERS, body: '{}' });
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: { message: expect.stringContaining('configured: test') } });
  });
});

describe('failing upstreams', () => {
  let gw: RunningGateway;
  let client: Client;
  beforeAll(async () => {
    gw = await startGateway({
      servers: { test: tsxCommand(TEST_UPSTREAM), dead: { command: `${ROOT}does-not-exist` } },
      upstreams: { connectTimeout: '5s' },
    });
    client = await connectClient(`${gw.url}/mcp`);
  });
  afterAll(async () => {
    await client?.close();
    await gw?.close();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('serves the other upstreams when one is down at start, and names the dead one on use', async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toContain('test__echo');
    expect(tools.some((t) => t.name.startsWith('dead__'))).toBe(false);
    await expect(rawCall(client, 'dead__anything')).rejects.toMatchObject({ code: -32603, message: expect.stringContaining('Upstream "dead"') });
  });

  it('gives calls in flight a clear error when a stdio upstream exits, then restarts it', async () => {
    const before = JSON.parse(textOf(await rawCall(client, 'test__stats'))).pid as number;
    await expect(rawCall(client, 'test__crash')).rejects.toMatchObject({
      code: -32603,
      message: expect.stringContaining('Upstream "test" closed its connection during tools/call'),
    });
    const after = JSON.parse(textOf(await rawCall(client, 'test__stats'))).pid as number;
    expect(after).not.toBe(before);
    expect(textOf(await rawCall(client, 'test__echo', { text: 'alive' }))).toBe('alive');
  });

  it('times out an upstream that never answers and keeps serving', async () => {
    // The gateway's upstream timeout (the default 60 s) runs on a faked clock: time is moved, not waited for.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const pending = rawCall(client, 'test__hang', {}, { timeout: 10 * 60_000 });
    await expect.poll(async () => JSON.parse(textOf(await rawCall(client, 'test__stats'))).calls.hang).toBe(1);
    const outcome = expect(pending).rejects.toMatchObject({ code: -32603, message: expect.stringContaining('did not answer tools/call within 1m') });
    await vi.advanceTimersByTimeAsync(61_000);
    await outcome;
    vi.useRealTimers();
    expect(textOf(await rawCall(client, 'test__echo', { text: 'still here' }))).toBe('still here');
  });
});

describe('upstream messages larger than servers.<name>.maxMessageSize', () => {
  let gw: RunningGateway;
  let client: Client;
  const upstreams: { close(): Promise<void> }[] = [];
  beforeAll(async () => {
    const sse = await startHttpUpstream(TEST_UPSTREAM, '--http');
    const json = await startHttpUpstream(TEST_UPSTREAM, '--http', '--json');
    const legacy = await startHttpUpstream(TEST_UPSTREAM, '--sse');
    upstreams.push(sse, json, legacy);
    gw = await startGateway({
      servers: {
        sse: { url: sse.url, maxMessageSize: '64kb' },
        json: { url: json.url, maxMessageSize: '64kb' },
        stdio: { ...tsxCommand(TEST_UPSTREAM), maxMessageSize: '64kb' },
        legacy: { url: legacy.url, transport: 'sse', maxMessageSize: '64kb' },
      },
    });
    client = await connectClient(`${gw.url}/mcp`);
  });
  afterAll(async () => {
    await client?.close();
    await gw?.close();
    await Promise.all(upstreams.map((upstream) => upstream.close()));
  });

  it.each(['sse', 'json'])('answers the call with an error naming the limit when a %s answer is larger, and relays smaller ones', async (server) => {
    expect(textOf(await rawCall(client, `${server}__big`, { bytes: 60_000 })).length).toBeGreaterThan(30_000);
    await expect(rawCall(client, `${server}__big`, { bytes: 70_000 })).rejects.toMatchObject({
      code: -32603,
      message: expect.stringContaining(`Upstream "${server}" sent a message larger than servers.${server}.maxMessageSize (64kb) while answering tools/call; Airlock dropped it`),
    });
    expect(textOf(await rawCall(client, `${server}__echo`, { text: 'still here' }))).toBe('still here');
  });

  it('drops a larger message on the upstream\'s GET stream, which the SDK reads, and relays the ones after it', async () => {
    const heard: number[] = [];
    client.setNotificationHandler('notifications/message', (notification) => void heard.push(String(notification.params.data).length));
    expect(textOf(await rawCall(client, 'sse__shout', { bytes: 70_000 }))).toBe('shouted');
    // The SDK opens a dropped GET stream again; what the upstream sends before it is back reaches nobody.
    await expect
      .poll(async () => {
        await rawCall(client, 'sse__shout', { bytes: 10 });
        return heard.includes(10);
      })
      .toBe(true);
    expect(heard.filter((length) => length >= 70_000)).toEqual([]);
  });

  it('fails the call waiting on a legacy HTTP+SSE upstream whose stream carried a larger message at once, naming the limit, and reconnects', async () => {
    expect(textOf(await rawCall(client, 'legacy__big', { bytes: 60_000 })).length).toBeGreaterThan(30_000);
    await expect(rawCall(client, 'legacy__big', { bytes: 70_000 })).rejects.toMatchObject({
      code: -32603,
      message: expect.stringContaining('Upstream "legacy" closed its connection during tools/call (it sent a message larger than servers.legacy.maxMessageSize (64kb))'),
    });
    expect(textOf(await rawCall(client, 'legacy__echo', { text: 'reconnected' }))).toBe('reconnected');
  });

  it('restarts a stdio upstream that wrote a longer line, with an error naming the limit', async () => {
    await expect(rawCall(client, 'stdio__big', { bytes: 70_000 })).rejects.toMatchObject({
      code: -32603,
      message: expect.stringContaining(
        'Upstream "stdio" closed its connection during tools/call (it wrote a message larger than servers.stdio.maxMessageSize (64kb)); it will be restarted',
      ),
    });
    expect(textOf(await rawCall(client, 'stdio__echo', { text: 'restarted' }))).toBe('restarted');
  });
});

describe('upstream HTTP sessions', () => {
  it('rebuilds an upstream session the upstream forgot', async () => {
    const upstream = await startHttpUpstream();
    const gw = await startGateway({ servers: { remote: { url: upstream.url } } });
    const client = await connectClient(`${gw.url}/mcp/remote`);
    try {
      expect(textOf(await rawCall(client, 'echo', { text: 'one' }))).toBe('one');
      await fetch(new URL('/forget-sessions', upstream.url));
      expect(textOf(await rawCall(client, 'echo', { text: 'two' }))).toBe('two');
    } finally {
      await client.close();
      await gw.close();
      await upstream.close();
    }
  });

  it('retries every call that was in flight on a forgotten session, not only the first', async () => {
    const upstream = await startHttpUpstream();
    const gw = await startGateway({ servers: { remote: { url: upstream.url } } });
    const client = await connectClient(`${gw.url}/mcp/remote`);
    const texts = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    try {
      expect(textOf(await rawCall(client, 'echo', { text: 'one' }))).toBe('one');
      // Several rounds: a late 404 of one round's old session must not close the session its retries opened.
      for (let round = 0; round < 3; round++) {
        await fetch(new URL('/forget-sessions', upstream.url));
        const echoed = await Promise.all(texts.map((text) => rawCall(client, 'echo', { text }).then(textOf, (error: Error) => error.message)));
        expect(echoed).toEqual(texts);
      }
    } finally {
      await client.close();
      await gw.close();
      await upstream.close();
    }
  });
});

describe('idle sessions', () => {
  it('are reaped with their stdio children, and their id then answers 404', async () => {
    const gw = await startGateway({ servers: { test: tsxCommand(TEST_UPSTREAM) }, sessions: { idleTimeout: '10m' } });
    const client = await connectClient(`${gw.url}/mcp`);
    try {
      const pid = JSON.parse(textOf(await rawCall(client, 'test__stats'))).pid as number;
      expect(await gw.gateway.sessions.reapIdle(Date.now() + 5 * 60_000)).toEqual([]);
      const reaped = await gw.gateway.sessions.reapIdle(Date.now() + 11 * 60_000);
      expect(reaped).toHaveLength(1);
      await expect.poll(() => isAlive(pid)).toBe(false);
      await expect(rawCall(client, 'test__echo', { text: 'late' })).rejects.toThrow(/404|Session not found/);
    } finally {
      await client.close().catch(() => undefined);
      await gw.close();
    }
  });
});

describe('configuration errors', () => {
  it('lists every problem by path', () => {
    expect(() =>
      parseConfig({ listen: { port: 'eighty' }, servers: { github: { args: [] }, 'bad__name': { command: 'x' }, web: { url: 'not a url' } }, extra: 1 }, 'c.json', {}),
    ).toThrow(
      expect.objectContaining({
        details: expect.arrayContaining([
          'listen.port: expected number',
          'servers.github.command: required (or "url" for an HTTP server)',
          'servers.bad__name: invalid name: use letters, digits, "-" and single "_" (no "__")',
          'servers.web.url: Invalid URL',
          '(root): unknown key(s) "extra"',
        ]),
      }),
    );
  });

  /** Runs `airlock serve` on a config (and other files) written to a new directory, which is also its data dir. */
  async function serveRefused(config: object, files: Record<string, object> = {}): Promise<{ code: number; stderr: string }> {
    const dir = await mkdtemp(join(tmpdir(), 'airlock-config-'));
    const path = join(dir, 'airlock.config.json');
    for (const [name, content] of Object.entries({ ...files, 'airlock.config.json': config })) await writeFile(join(dir, name), JSON.stringify(content));
    const child = spawn(process.execPath, [`${ROOT}bin/airlock.js`, 'serve', '--config', path], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, AIRLOCK_DATA_DIR: dir } });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = (await once(child, 'exit')) as [number];
    return { code, stderr };
  }

  it('makes airlock serve exit with the problems and no stack trace', async () => {
    const { code, stderr } = await serveRefused({ servers: { github: { args: ['x'] } } });
    expect(code).toBe(78);
    expect(stderr).toContain('servers.github.command: required');
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it('makes airlock serve exit 78 on a wrong policy too, naming the problem', async () => {
    const { code, stderr } = await serveRefused({ servers: {}, policy: 'policy.json' }, { 'policy.json': { version: '1', default: 'maybe' } });
    expect(code).toBe(78);
    expect(stderr).toContain('default: must be one of "allow", "deny", "require_approval" (got "maybe")');
    expect(stderr).not.toMatch(/\n\s+at /);
  });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
