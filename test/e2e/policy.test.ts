/**
 * The policy enforced through `airlock serve` with the SDK client: API-key identity, allow, deny with reason,
 * hidden tools, argument conditions, rate limits with a retry time, and hot reload of a good and a bad policy.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { parseConfig } from '../../server/src/config/load.js';
import { createGateway, type Gateway } from '../../server/src/gateway/create-gateway.js';
import { MemoryLimitStore } from '../../server/src/limits/memory-limit-store.js';
import { createLogger } from '../../server/src/log/logger.js';
import { PolicyWatcher } from '../../server/src/policy/policy-watcher.js';
import { ManualClock } from '../../server/src/util/clock.js';
import { callThenCancel, rawCall, TEST_UPSTREAM, textOf, tsxCommand } from './helpers/gateway.js';

const KEY = 'sk-test-ci-bot';
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

const POLICY = {
  version: '1',
  default: 'deny',
  hide: ['hang'],
  tools: {
    echo: {
      deny_if: [{ path: 'args.text', op: 'eq', value: 'forbidden' }],
      limits: [{ counter: 'echo_rate', window: 'minute', max: 2, scope: 'grant' }],
    },
    stats: { action: 'allow' },
    crash: { limits: [{ counter: 'crash_rate', window: 'hour', max: 1, scope: 'grant' }] },
    wait_for_cancel: { limits: [{ counter: 'cancel_rate', window: 'hour', max: 1, scope: 'grant' }] },
    progress: { action: 'allow' },
    log: { action: 'deny', reason: 'Logging is for humans only.' },
    elicit: { action: 'require_approval', approval: { approvers: ['web:oncall'] } },
  },
};

describe('policy through the gateway', () => {
  let dir: string;
  let policyPath: string;
  let gateway: Gateway;
  let watcher: PolicyWatcher;
  let url: string;
  let client: Client;
  const clock = new ManualClock(Date.parse('2026-11-24T10:00:00Z'));

  async function connect(key?: string): Promise<Client> {
    const agent = new Client({ name: 'policy-e2e', version: '1.0.0' });
    await agent.connect(
      new StreamableHTTPClientTransport(new URL(`${url}/mcp`), key ? { requestInit: { headers: { authorization: `Bearer ${key}` } } } : undefined),
    );
    return agent;
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'airlock-policy-'));
    policyPath = join(dir, 'policy.json');
    await writeFile(policyPath, JSON.stringify(POLICY));
    const logger = createLogger('silent');
    watcher = await PolicyWatcher.open(policyPath, logger, () => void gateway.toolsChanged());
    const config = parseConfig(
      { listen: { port: 0 }, servers: { test: tsxCommand(TEST_UPSTREAM) }, grants: [{ name: 'ci-bot', agent: 'ci', key_sha256: sha256(KEY) }] },
      'test',
      {},
    );
    gateway = createGateway({ config, logger, policy: watcher, limitStore: new MemoryLimitStore({ clock }) });
    url = (await gateway.listen()).url;
    client = await connect(KEY);
  });
  afterAll(async () => {
    await client?.close();
    watcher?.close();
    await gateway?.close();
  });

  it('refuses a missing or wrong API key with 401 before any MCP traffic', async () => {
    await expect(connect()).rejects.toThrow(/Unauthorized: send/);
    await expect(connect('sk-wrong')).rejects.toThrow(/Unauthorized: unknown API key/);
    const response = await fetch(`${url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: 'Bearer sk-wrong' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: {} }),
    });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toContain('Bearer');
  });

  it('leaves hidden tools out of tools/list and answers a call to one as an unknown tool', async () => {
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toContain('test__echo');
    expect(names).not.toContain('test__hang');
    await expect(rawCall(client, 'test__hang')).rejects.toMatchObject({ code: -32602, message: 'Unknown tool: test__hang' });
  });

  it('denies with the policy’s reason and the rule, without calling the upstream', async () => {
    const denied = await rawCall(client, 'test__log', { message: 'x' });
    expect(denied.isError).toBe(true);
    expect(textOf(denied)).toBe('Policy violation: Logging is for humans only.');
    expect(denied._meta).toEqual({ 'airlock/decision': { decision: 'deny', rule: '/tools/log/action', reason: 'Logging is for humans only.' } });
    const defaulted = await rawCall(client, 'test__roots');
    expect(textOf(defaulted)).toMatch(/^Policy violation: /);
    expect((defaulted._meta as Record<string, { rule: string }>)['airlock/decision']!.rule).toBe('/default');
    const stats = JSON.parse(textOf(await rawCall(client, 'test__stats')));
    expect(stats.calls.log).toBeUndefined();
    expect(stats.calls.roots).toBeUndefined();
  });

  it('applies argument conditions', async () => {
    const denied = await rawCall(client, 'test__echo', { text: 'forbidden' });
    expect(textOf(denied)).toMatch(/^Policy violation: /);
    expect((denied._meta as Record<string, { rule: string }>)['airlock/decision']!.rule).toBe('/tools/echo/deny_if/0');
  });

  it('rate-limits per grant and says when to retry; denied calls use no quota', async () => {
    clock.advance(120_000);
    expect(textOf(await rawCall(client, 'test__echo', { text: 'one' }))).toBe('one');
    clock.advance(20_000);
    expect(textOf(await rawCall(client, 'test__echo', { text: 'two' }))).toBe('two');
    clock.advance(10_000);
    const limited = await rawCall(client, 'test__echo', { text: 'three' });
    expect(limited.isError).toBe(true);
    expect(textOf(limited)).toContain('retry after 30 s');
    expect(limited._meta).toMatchObject({ 'airlock/decision': { decision: 'rate_limited', rule: '/tools/echo/limits/0', retryAfterSeconds: 30 } });
    clock.advance(30_000);
    expect(textOf(await rawCall(client, 'test__echo', { text: 'four' }))).toBe('four');
  });

  it('gives back the quota of a call whose upstream failed', async () => {
    await expect(rawCall(client, 'test__crash')).rejects.toMatchObject({ code: -32603 });
    // max is 1 per hour: only a refund lets the second call through to the (restarted) upstream.
    await expect(rawCall(client, 'test__crash')).rejects.toMatchObject({ code: -32603, message: expect.stringContaining('closed its connection') });
  });

  it('keeps the quota of a call the agent cancelled after it went upstream: cancel-and-repeat walks past no limit', async () => {
    await callThenCancel(client, 'the agent gave up');
    const again = await rawCall(client, 'test__wait_for_cancel');
    expect(again._meta).toMatchObject({ 'airlock/decision': { decision: 'rate_limited', rule: '/tools/wait_for_cancel/limits/0' } });
  });

  it('never runs a call that needs approval while no approval service is configured', async () => {
    const held = await rawCall(client, 'test__elicit', { message: 'm' });
    expect(textOf(held)).toMatch(/^Policy violation: .*holds no calls for approval, so the call was not run/);
  });

  it('hot-reloads a valid policy without dropping the session, and keeps the last good one on a bad change', async () => {
    const toolsChanged = new Promise<void>((resolve) => client.setNotificationHandler('notifications/tools/list_changed', async () => resolve()));
    await writeFile(policyPath, JSON.stringify({ ...POLICY, hide: ['hang', 'progress'] }));
    await expect.poll(async () => (await client.listTools()).tools.map((t) => t.name)).not.toContain('test__progress');
    await toolsChanged;

    await writeFile(policyPath, '{ "version": "1", "default": "alow" ');
    await expect.poll(() => watcher.refusal?.problems.length ?? 0).toBeGreaterThan(0);
    expect(watcher.refusal!.problems.join('\n')).toContain(policyPath);
    expect((await client.listTools()).tools.map((t) => t.name)).not.toContain('test__progress');
    expect(textOf(await rawCall(client, 'test__stats'))).toContain('pid');
  });
});
