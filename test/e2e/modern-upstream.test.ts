/**
 * An upstream that speaks only 2026-07-28 behind 2025-era sessions: the gateway finds out the upstream refuses
 * 2025, speaks 2026 to it, and turns its input_required rounds into real elicitation and sampling requests on
 * the session, on the stream of the call that caused them.
 */
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport as V1SseTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport as V1Transport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, CreateMessageRequestSchema, ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest';

import { createMetrics, type Metrics } from '../../server/src/metrics/metrics.js';
import { connectClient, rawCall, ROOT, startGateway, startHttpUpstream, textOf, tsxCommand, type RunningGateway } from './helpers/gateway.js';

const MODERN_UPSTREAM = `${ROOT}test/fixtures/modern-upstream.ts`;
const FINAL = 'answer=yes model=fine state=round-2:yes:round-1';

/** A 2025 client that answers both kinds of input the upstream's `confirm` tool asks for, and records them. */
function answeringV1Client(asked: string[]): V1Client {
  const client = new V1Client({ name: 'v1-agent', version: '1.0.0' }, { capabilities: { elicitation: {}, sampling: {} } });
  client.setRequestHandler(ElicitRequestSchema, async (request) => {
    asked.push(`elicit:${request.params.message}`);
    return { action: 'accept', content: { answer: 'yes' } };
  });
  client.setRequestHandler(CreateMessageRequestSchema, async () => {
    asked.push('sample');
    return { role: 'assistant', content: { type: 'text', text: 'fine' }, model: 'test-model' };
  });
  return client;
}

async function callsEnded(metrics: Metrics): Promise<number> {
  const counter = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === 'airlock_tool_calls_total');
  return (counter?.values ?? []).reduce((sum, v) => sum + v.value, 0);
}

describe('a 2026-only upstream behind 2025-era sessions', () => {
  let gw: RunningGateway;
  let http: Awaited<ReturnType<typeof startHttpUpstream>>;
  let metrics: Metrics;

  beforeAll(async () => {
    http = await startHttpUpstream(MODERN_UPSTREAM);
    metrics = createMetrics({ defaultMetrics: false });
    gw = await startGateway({ servers: { modern: tsxCommand(MODERN_UPSTREAM), web: { url: http.url } } }, { metrics });
  });
  afterAll(async () => {
    await gw?.close();
    await http?.close();
  });

  it('relays each input_required round to an SDK 1.x client with a session and returns the final result, as one call', async () => {
    const asked: string[] = [];
    const client = answeringV1Client(asked);
    await client.connect(new V1Transport(new URL(`${gw.url}/mcp`)));
    try {
      const before = await callsEnded(metrics);
      const result = await client.request({ method: 'tools/call', params: { name: 'modern__confirm', arguments: { question: 'Ship it?' } } }, CallToolResultSchema);
      expect(result.content).toEqual([{ type: 'text', text: FINAL }]);
      expect(asked).toEqual(['elicit:Ship it?', 'sample']);
      // The upstream saw three attempts; the pipeline saw one call.
      expect(await callsEnded(metrics)).toBe(before + 1);
      const attempts = await client.request({ method: 'tools/call', params: { name: 'modern__attempts', arguments: {} } }, CallToolResultSchema);
      expect(JSON.parse((attempts.content[0] as { text: string }).text)).toMatchObject({ confirm: 3 });
    } finally {
      await client.close();
    }
  });

  it('relays progress from every attempt and ends the call when the client cancels during an input round', async () => {
    const seen: number[] = [];
    const asked: string[] = [];
    const client = answeringV1Client(asked);
    await client.connect(new V1Transport(new URL(`${gw.url}/mcp`)));
    try {
      await client.request({ method: 'tools/call', params: { name: 'modern__confirm', arguments: { question: 'p' } } }, CallToolResultSchema, {
        onprogress: (p) => void seen.push(p.progress),
      });
      expect(seen).toEqual([1, 2, 3]);

      const stop = new AbortController();
      client.setRequestHandler(ElicitRequestSchema, () => {
        stop.abort('user pressed stop');
        return new Promise(() => undefined);
      });
      const ended = await callsEnded(metrics);
      await expect(
        client.request({ method: 'tools/call', params: { name: 'modern__confirm', arguments: { question: 'c' } } }, CallToolResultSchema, { signal: stop.signal }),
      ).rejects.toThrow('user pressed stop');
      // The gateway stops waiting for the answer and ends the call without asking the upstream again.
      await vi.waitFor(async () => expect(await callsEnded(metrics)).toBe(ended + 1));
      const attempts = await client.request({ method: 'tools/call', params: { name: 'modern__attempts', arguments: {} } }, CallToolResultSchema);
      expect(JSON.parse((attempts.content[0] as { text: string }).text)).toMatchObject({ confirm: 4 });
    } finally {
      await client.close();
    }
  });

  it('does the same for an SDK v2 client on 2025-11-25 and an HTTP upstream', async () => {
    const client = await connectClient(`${gw.url}/mcp/web`, { capabilities: { elicitation: {}, sampling: {} } });
    client.setRequestHandler('elicitation/create', async () => ({ action: 'accept', content: { answer: 'yes' } }));
    client.setRequestHandler('sampling/createMessage', async () => ({ role: 'assistant', content: { type: 'text', text: 'fine' }, model: 'm' }));
    try {
      expect(client.getNegotiatedProtocolVersion()).toBe('2025-11-25');
      expect(textOf(await rawCall(client, 'confirm', { question: 'Over HTTP?' }))).toBe(FINAL);
      expect(textOf(await rawCall(client, 'echo', { text: 'plain' }))).toBe('plain');
    } finally {
      await client.close();
    }
  });

  it('learns once that the upstream refuses 2025: later sessions speak 2026 to it at once', async () => {
    const refusedSoFar = async () => {
      const client = await connectClient(`${gw.url}/mcp/web`);
      try {
        return (JSON.parse(textOf(await rawCall(client, 'attempts'))) as Record<string, number>)['2025 initialize'] ?? 0;
      } finally {
        await client.close();
      }
    };
    const first = await refusedSoFar();
    expect(first).toBeGreaterThan(0);
    expect(await refusedSoFar()).toBe(first);
  });

  it('carries a 2025 session’s log level on each request, so the upstream’s log messages at that level reach it', async () => {
    const client = await connectClient(`${gw.url}/mcp/web`);
    const logged: unknown[] = [];
    client.setNotificationHandler('notifications/message', (notification) => void logged.push(notification.params.data));
    try {
      expect(textOf(await rawCall(client, 'chatty'))).toBe('said it');
      expect(logged).toEqual([]);
      await client.setLoggingLevel('warning');
      expect(textOf(await rawCall(client, 'chatty'))).toBe('said it');
      expect(logged).toEqual(['chatty: something to know']);
      await client.setLoggingLevel('debug');
      await rawCall(client, 'chatty');
      expect(logged).toEqual(['chatty: something to know', 'chatty: debug detail', 'chatty: something to know']);
    } finally {
      await client.close();
    }
  });

  it('relays list changes and updates of subscribed resources to a 2025 session, through subscriptions/listen', async () => {
    const client = await connectClient(`${gw.url}/mcp/web`);
    const heard: string[] = [];
    client.setNotificationHandler('notifications/tools/list_changed', () => void heard.push('tools changed'));
    client.setNotificationHandler('notifications/resources/updated', (notification) => void heard.push(`updated ${notification.params.uri}`));
    try {
      // The SDK client opens the session's GET stream in the background after connect, and a change announced
      // before it is up reaches nobody, as a 2025 session's unsolicited notifications do (the gateway's listen
      // stream upstream is up before connect returns, see above); so the first change is announced again until one
      // arrives, then every later one counts.
      for (let attempt = 0; heard.length === 0; attempt += 1) {
        expect(attempt).toBeLessThan(10);
        expect(textOf(await rawCall(client, 'announce'))).toBe('announced');
        await expect.poll(() => heard.length, { timeout: 2000 }).toBeGreaterThan(0).catch(() => undefined);
      }
      expect(heard).toEqual(['tools changed']);
      await client.subscribeResource({ uri: 'memo://note' });
      await rawCall(client, 'announce');
      await expect.poll(() => heard).toEqual(['tools changed', 'tools changed', 'updated memo://note']);
      await client.unsubscribeResource({ uri: 'memo://note' });
      await rawCall(client, 'announce');
      await expect.poll(() => heard.length).toBe(4);
      expect(heard.at(-1)).toBe('tools changed');
    } finally {
      await client.close();
    }
  });

  it('opens a 2025 session only once the upstream acknowledged the listen stream, so a change right after initialize is relayed', async () => {
    const slow = await startHttpUpstream(MODERN_UPSTREAM, '--http', '--slow-listen', '400');
    const gateway = await startGateway({ servers: { slow: { url: slow.url } } });
    // Also when the test fails by its timeout, waiting for a change that never came.
    onTestFinished(async () => {
      await gateway.close();
      await slow.close();
    });
    const post = (session: string | undefined, message: Record<string, unknown>) =>
      fetch(`${gateway.url}/mcp/slow`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-11-25', ...(session ? { 'mcp-session-id': session } : {}) },
        body: JSON.stringify({ jsonrpc: '2.0', ...message }),
      });
    const initialized = await post(undefined, { id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
    const session = initialized.headers.get('mcp-session-id')!;
    await initialized.text();
    await (await post(session, { method: 'notifications/initialized' })).text();
    // The session's own GET stream, open (its headers arrived) before anything is announced.
    const stream = await fetch(`${gateway.url}/mcp/slow`, { headers: { accept: 'text/event-stream', 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' } });
    expect(stream.status).toBe(200);
    const events = stream.body!.pipeThrough(new TextDecoderStream()).getReader();

    expect(await (await post(session, { id: 2, method: 'tools/call', params: { name: 'announce', arguments: {} } })).text()).toContain('announced');
    let heard = '';
    while (!heard.includes('notifications/tools/list_changed')) {
      const { value, done } = await events.read();
      if (done) break;
      heard += value;
    }
    expect(heard).toContain('notifications/tools/list_changed');
    await events.cancel();
  });

  it('relays the rounds to an old client on the HTTP+SSE transport', async () => {
    const asked: string[] = [];
    const client = answeringV1Client(asked);
    await client.connect(new V1SseTransport(new URL(`${gw.url}/sse`)));
    try {
      const result = await client.request({ method: 'tools/call', params: { name: 'modern__confirm', arguments: { question: 'Old?' } } }, CallToolResultSchema);
      expect(result.content).toEqual([{ type: 'text', text: FINAL }]);
      expect(asked).toEqual(['elicit:Old?', 'sample']);
    } finally {
      await client.close();
    }
  });

  it('tells a client without the elicitation capability why the call cannot finish', async () => {
    const client = new V1Client({ name: 'no-elicitation', version: '1.0.0' }, { capabilities: { sampling: {} } });
    await client.connect(new V1Transport(new URL(`${gw.url}/mcp`)));
    try {
      await expect(
        client.request({ method: 'tools/call', params: { name: 'modern__confirm', arguments: { question: 'q' } } }, CallToolResultSchema),
      ).rejects.toMatchObject({ code: -32021, message: expect.stringContaining('elicitation') });
    } finally {
      await client.close();
    }
  });
});
