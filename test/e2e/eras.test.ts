/**
 * Both protocol eras on one gateway endpoint in one test: the SDK 1.x client (2025-11-25, Mcp-Session-Id) and
 * the SDK v2 client negotiating 2026-07-28 (server/discover, no session).
 */
import { randomBytes } from 'node:crypto';

import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport as V1SseTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport as V1Transport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { AuditLog } from '../../server/src/audit/audit-log.js';
import { createMetrics, type Metrics } from '../../server/src/metrics/metrics.js';
import { SUSPENDED_CALL_TTL_MS } from '../../server/src/proxy/upstream/suspended-calls.js';
import { ManualClock } from '../../server/src/util/clock.js';
import { createTestDatabase, type TestDatabase } from '../contract/test-databases.js';
import { connectClient, passthrough, rawCall, startGateway, TEST_UPSTREAM, textOf, tsxCommand, type RunningGateway } from './helpers/gateway.js';

describe('one endpoint, both protocol eras', () => {
  let gw: RunningGateway;

  beforeAll(async () => {
    gw = await startGateway({ servers: { test: tsxCommand(TEST_UPSTREAM) } });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('serves an SDK 1.x client with a session and an SDK v2 client on 2026-07-28 side by side', async () => {
    const v1 = new V1Client({ name: 'v1-agent', version: '1.0.0' });
    const v1Transport = new V1Transport(new URL(`${gw.url}/mcp`));
    await v1.connect(v1Transport);
    const v2 = await connectClient(`${gw.url}/mcp`, { modern: true });
    try {
      expect(v1Transport.sessionId).toMatch(/[0-9a-f-]{36}/);
      expect(v2.getNegotiatedProtocolVersion()).toBe('2026-07-28');
      expect(v2.getDiscoverResult()).toBeDefined();

      const [v1Tools, v2Tools] = await Promise.all([v1.listTools(), v2.listTools()]);
      expect(v1Tools.tools.map((t) => t.name)).toEqual(v2Tools.tools.map((t) => t.name));

      const v1Result = await v1.request({ method: 'tools/call', params: { name: 'test__echo', arguments: { text: 'from 2025' } } }, CallToolResultSchema);
      expect(v1Result.content[0]).toMatchObject({ text: 'from 2025' });
      expect(textOf(await rawCall(v2, 'test__echo', { text: 'from 2026' }))).toBe('from 2026');

      const seen: unknown[] = [];
      const progressed = await rawCall(v2, 'test__progress', { steps: 2 }, { onprogress: (p) => void seen.push(p) });
      expect(textOf(progressed)).toBe('done 2 steps');
      expect(seen).toHaveLength(2);
    } finally {
      await v1.close();
      await v2.close();
    }
  });

  it('serves old clients on the 2024-11-05 HTTP+SSE transport, upstream requests included', async () => {
    const old = new V1Client({ name: 'old-agent', version: '0.9.0' }, { capabilities: { elicitation: {} } });
    old.setRequestHandler(ElicitRequestSchema, async () => ({ action: 'accept', content: { answer: 'over sse' } }));
    await old.connect(new V1SseTransport(new URL(`${gw.url}/sse`)));
    try {
      expect((await old.listTools()).tools.map((t) => t.name)).toContain('test__echo');
      const echoed = await old.request({ method: 'tools/call', params: { name: 'test__echo', arguments: { text: 'legacy sse' } } }, CallToolResultSchema);
      expect(echoed.content[0]).toMatchObject({ text: 'legacy sse' });
      const elicited = await old.request({ method: 'tools/call', params: { name: 'test__elicit', arguments: { message: 'q' } } }, CallToolResultSchema);
      expect(JSON.stringify(elicited.content)).toContain('over sse');
    } finally {
      await old.close();
    }
  });

  it('answers a 2026 request for a method the era does not have with HTTP 404', async () => {
    const response = await fetch(`${gw.url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'vendor/unknown',
        params: {
          _meta: {
            'io.modelcontextprotocol/protocolVersion': '2026-07-28',
            'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
            'io.modelcontextprotocol/clientCapabilities': {},
          },
        },
      }),
    });
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: { code: -32601 } });
  });
});

describe('a 2025 upstream asking a 2026 client mid-call', () => {
  let gw: RunningGateway;
  let v2: Client;
  const clock = new ManualClock();
  const metrics: Metrics = createMetrics({ defaultMetrics: false });
  const asked: string[] = [];
  let database: TestDatabase;
  let audit: AuditLog;

  beforeAll(async () => {
    database = await createTestDatabase('pglite');
    audit = new AuditLog(database.db);
    gw = await startGateway({ servers: { test: tsxCommand(TEST_UPSTREAM) } }, { clock, metrics, audit });
    v2 = await connectClient(`${gw.url}/mcp`, { modern: true, capabilities: { elicitation: {}, sampling: {} } });
    v2.setRequestHandler('elicitation/create', async (request) => {
      asked.push(String(request.params.message));
      return { action: 'accept', content: { answer: 'from 2026' } };
    });
    v2.setRequestHandler('sampling/createMessage', async () => ({ role: 'assistant', content: { type: 'text', text: 'sampled in 2026' }, model: 'm' }));
  });
  afterAll(async () => {
    await v2?.close();
    await gw?.close();
    await audit?.close();
    await database?.destroy();
  });

  const callsEnded = async () =>
    ((await metrics.registry.getMetricsAsJSON()).find((m) => m.name === 'airlock_tool_calls_total')?.values ?? []).reduce((sum, v) => sum + v.value, 0);
  const upstreamRuns = async (tool: string) => (JSON.parse(textOf(await rawCall(v2, 'test__stats'))) as { calls: Record<string, number> }).calls[tool] ?? 0;

  it('answers with input_required, then hands the retry\'s answers to the held upstream call: one call, run once', async () => {
    const [ended, runs] = [await callsEnded(), await upstreamRuns('elicit')];
    expect(textOf(await rawCall(v2, 'test__elicit', { message: 'Proceed?' }))).toBe('elicited: {"action":"accept","content":{"answer":"from 2026"}}');
    expect(asked).toEqual(['Proceed?']);
    expect(await upstreamRuns('elicit')).toBe(runs + 1);
    // Three calls ended since: two test__stats and one test__elicit, its retry not counted as a call of its own.
    expect(await callsEnded()).toBe(ended + 3);
    expect(textOf(await rawCall(v2, 'test__sample', { prompt: 'hi' }))).toBe('sampled: {"type":"text","text":"sampled in 2026"}');
  });

  it('audits the call once, and the upstream outcome of each request: input_required, then the result after the answer', async () => {
    await rawCall(v2, 'test__elicit', { message: 'audited' });
    await audit.flush();
    const rows = await database.db.query<{ canonical: string }>(`SELECT canonical FROM audit_events WHERE tool = 'elicit' ORDER BY seq DESC LIMIT 3`);
    const events = rows.reverse().map((row) => JSON.parse(row.canonical) as { kind: string; upstreamStatus?: string; detail?: unknown });
    expect(events).toMatchObject([
      { kind: 'allowed' },
      { kind: 'executed', upstreamStatus: 'input_required' },
      { kind: 'executed', upstreamStatus: 'ok', detail: { continuesAfter: 'input_required' } },
    ]);
  });

  it('relays what the upstream reports after the answer to the retry that waits for it', async () => {
    const seen: unknown[] = [];
    await rawCall(v2, 'test__elicit', { message: 'with progress' }, { onprogress: (p) => void seen.push(p.message) });
    // The SDK client reports its own rounds as progress too; the upstream's report comes last, on the retry.
    expect(seen.at(-1)).toBe('answered');
  });

  it('tells a 2026 client that lacks the capability what the upstream asked for', async () => {
    const bare = await connectClient(`${gw.url}/mcp`, { modern: true });
    try {
      await expect(rawCall(bare, 'test__elicit', { message: 'q' })).rejects.toMatchObject({
        code: -32021,
        message: expect.stringContaining('Upstream "test" needs input \'input-1\' through elicitation/create to finish tools/call, but this client did not declare the "elicitation" capability'),
      });
    } finally {
      await bare.close();
    }
  });

  it('refuses a requestState that names no held call', async () => {
    await expect(
      v2.request({ method: 'tools/call', params: { name: 'test__echo', arguments: { text: 'x' }, requestState: 'airlock-held.nope.forged' } }, passthrough),
    ).rejects.toMatchObject({ code: -32602, message: expect.stringContaining('requestState names no held call on upstream "test"') });
  });

  it('lets only the request that was asked continue a held call', async () => {
    const first = (await v2.request({ method: 'tools/call', params: { name: 'test__elicit', arguments: { message: 'mine' } } }, passthrough, {
      allowInputRequired: true,
    })) as { requestState?: string };
    const answers = { 'input-1': { action: 'accept', content: { answer: 'sneaky' } } };
    await expect(
      v2.request({ method: 'tools/call', params: { name: 'test__echo', arguments: { text: 'x' }, inputResponses: answers, requestState: first.requestState } }, passthrough),
    ).rejects.toMatchObject({ code: -32602, message: expect.stringContaining('names no held call') });
    const forged = `${first.requestState!.slice(0, -4)}AAAA`;
    await expect(
      v2.request({ method: 'tools/call', params: { name: 'test__elicit', arguments: { message: 'mine' }, inputResponses: answers, requestState: forged } }, passthrough),
    ).rejects.toMatchObject({ code: -32602, message: expect.stringContaining('names no held call') });
    const done = await v2.request(
      { method: 'tools/call', params: { name: 'test__elicit', arguments: { message: 'mine' }, inputResponses: answers, requestState: first.requestState } },
      passthrough,
    );
    expect(textOf(done as Record<string, unknown>)).toContain('sneaky');
  });

  it('refuses the answers to a call held longer than its lifetime', async () => {
    const first = (await v2.request({ method: 'tools/call', params: { name: 'test__elicit', arguments: { message: 'late' } } }, passthrough, {
      allowInputRequired: true,
    })) as { resultType?: string; inputRequests?: Record<string, unknown>; requestState?: string };
    expect(first).toMatchObject({ resultType: 'input_required', inputRequests: { 'input-1': { method: 'elicitation/create', params: { message: 'late' } } } });
    clock.advance(SUSPENDED_CALL_TTL_MS);
    const retry = { name: 'test__elicit', arguments: { message: 'late' }, inputResponses: { 'input-1': { action: 'accept', content: {} } }, requestState: first.requestState };
    await expect(v2.request({ method: 'tools/call', params: retry }, passthrough)).rejects.toMatchObject({
      code: -32602,
      message: expect.stringContaining('expired after 10m without an answer'),
    });
  });
});

describe('a call held on one instance, continued by a retry that reaches another', () => {
  // Two instances of one deployment: the same held-state key (from their shared database when run by `airlock
  // serve`), each with a test upstream of its own, so an upstream's counters show which instance ran a call.
  const heldStateKey = randomBytes(32);
  let a: RunningGateway;
  let b: RunningGateway;
  let onA: Client;
  let onB: Client;
  const capabilities = { elicitation: {}, sampling: {} };

  beforeAll(async () => {
    a = await startGateway({ servers: { test: tsxCommand(TEST_UPSTREAM) } }, { heldStateKey });
    b = await startGateway({ servers: { test: tsxCommand(TEST_UPSTREAM) } }, { heldStateKey });
    onA = await connectClient(`${a.url}/mcp`, { modern: true, capabilities });
    onB = await connectClient(`${b.url}/mcp`, { modern: true, capabilities });
  });
  afterAll(async () => {
    await onA?.close();
    await onB?.close();
    await a?.close();
    await b?.close();
  });

  const runs = async (client: Client, tool: string) => (JSON.parse(textOf(await rawCall(client, 'test__stats'))) as { calls: Record<string, number> }).calls[tool] ?? 0;
  const ask = async (client: Client, message: string) =>
    (await client.request({ method: 'tools/call', params: { name: 'test__elicit', arguments: { message } } }, passthrough, { allowInputRequired: true })) as {
      resultType?: string;
      requestState?: string;
    };
  const answer = (client: Client, message: string, requestState: string | undefined, options: Parameters<Client['request']>[2] = {}) =>
    client.request(
      {
        method: 'tools/call',
        params: { name: 'test__elicit', arguments: { message }, inputResponses: { 'input-1': { action: 'accept', content: { answer: `to ${message}` } } }, requestState },
      },
      passthrough,
      options,
    ) as Promise<Record<string, unknown>>;

  it('hands the answers to the instance that holds the call, and its result and progress back: run once, there', async () => {
    const [onARuns, onBRuns] = [await runs(onA, 'elicit'), await runs(onB, 'elicit')];
    const first = await ask(onA, 'across');
    expect(first.resultType).toBe('input_required');
    const seen: unknown[] = [];
    const done = await answer(onB, 'across', first.requestState, { onprogress: (p) => void seen.push(p.message) });
    expect(textOf(done)).toBe('elicited: {"action":"accept","content":{"answer":"to across"}}');
    // The upstream's report after the answer travelled on the holder's stream, through B, to the retry.
    expect(seen).toContain('answered');
    expect([await runs(onA, 'elicit'), await runs(onB, 'elicit')]).toEqual([onARuns + 1, onBRuns]);
  });

  it('still refuses, on either instance, a state that names no held call or was altered', async () => {
    const first = await ask(onA, 'tampered');
    const altered = `${first.requestState!.slice(0, -4)}AAAA`;
    for (const client of [onA, onB]) {
      await expect(answer(client, 'tampered', altered)).rejects.toMatchObject({ code: -32602, message: expect.stringContaining('names no held call') });
    }
    await expect(answer(onB, 'tampered', first.requestState)).resolves.toMatchObject({ content: [{ text: expect.stringContaining('to tampered') }] });
    // Answered once: the state names no held call any more, wherever the retry goes.
    await expect(answer(onB, 'tampered', first.requestState)).rejects.toMatchObject({ code: -32602, message: expect.stringContaining('names no held call') });
  });

  it('cancels the call on the holder when the client of the forwarded retry goes away', async () => {
    const params = { name: 'test__elicit', arguments: { message: 'then wait', then: 'wait_for_cancel' } };
    const first = (await onA.request({ method: 'tools/call', params }, passthrough, { allowInputRequired: true })) as { requestState?: string };
    const leaving = new AbortController();
    const retry = onB.request(
      { method: 'tools/call', params: { ...params, inputResponses: { 'input-1': { action: 'accept', content: {} } }, requestState: first.requestState } },
      passthrough,
      // The upstream reports once it has the answer; from then on it waits to be cancelled.
      { signal: leaving.signal, onprogress: (p) => void (p.message === 'answered' && leaving.abort('the agent moved on')) },
    );
    await expect(retry).rejects.toThrow();
    const lastCancel = async () => (JSON.parse(textOf(await rawCall(onA, 'test__stats'))) as { lastCancel?: string }).lastCancel;
    await expect.poll(lastCancel, { timeout: 10_000 }).toBeDefined();
  });

  it('tells the client when the holding instance cannot be reached, and keeps serving it', async () => {
    const c = await startGateway({ servers: { test: tsxCommand(TEST_UPSTREAM) } }, { heldStateKey });
    const onC = await connectClient(`${c.url}/mcp`, { modern: true, capabilities });
    const first = await ask(onC, 'orphaned');
    await onC.close();
    await c.close();
    await expect(answer(onB, 'orphaned', first.requestState)).rejects.toThrow(/could not be reached .*call again without requestState/);
    expect(textOf(await rawCall(onB, 'test__echo', { text: 'still here' }))).toBe('still here');
  });
});
