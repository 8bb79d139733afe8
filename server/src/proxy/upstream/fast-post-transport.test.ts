/**
 * FastPostTransport against the test upstream in its own process, on the SDK's Streamable HTTP server: SSE and JSON
 * answers, upstream requests mid-call, sessions the upstream forgot, aborts, large results and resumption.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { ROOT, startProcess } from '../../../../test/fixtures/start-process.js';
import { UpstreamConfigSchema } from '../../config/schema.js';
import { createLogger } from '../../log/logger.js';
import { systemClock } from '../../util/clock.js';
import { isSessionExpired } from '../errors.js';
import { Client, passthrough, type Result, SdkHttpError, StreamableHTTPClientTransport, type Transport } from '../sdk.js';
import { FastPostTransport } from './fast-post-transport.js';
import { HeldStateSeal } from './held-state.js';
import { deliverInOrder } from './ordered-transport.js';
import { UpstreamLink } from './upstream-link.js';

interface Upstream {
  url: URL;
  child: ChildProcess;
}

async function startUpstream(...flags: string[]): Promise<Upstream> {
  const args = ['--import', 'tsx', `${ROOT}test/fixtures/test-upstream.ts`, '--http', '0', ...flags];
  const { child, match } = await startProcess(args, /listening (\S+)/, 'stdout');
  return { url: new URL(match[1]!), child };
}

async function stop(upstream: Upstream | undefined): Promise<void> {
  if (upstream && upstream.child.exitCode === null) {
    upstream.child.kill();
    await once(upstream.child, 'exit');
  }
}

const clients: Client[] = [];

/** An SDK client on `transport` that answers sampling and elicitation requests the way a host would. */
async function connect(transport: Transport): Promise<Client> {
  const client = new Client({ name: 'fast-post-test', version: '1.0.0' }, { capabilities: { sampling: {}, elicitation: { form: {} } } });
  client.fallbackRequestHandler = async (request) =>
    request.method === 'sampling/createMessage'
      ? { role: 'assistant', model: 'test', content: { type: 'text', text: 'sampled answer' } }
      : { action: 'accept', content: { answer: 'forty-two' } };
  clients.push(client);
  await client.connect(transport);
  return client;
}

function call(client: Client, name: string, args: Record<string, unknown> = {}, options: Parameters<Client['request']>[2] = {}) {
  return client.request({ method: 'tools/call', params: { name, arguments: args } }, passthrough, options) as Promise<Result & { content: { text: string }[] }>;
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

describe('FastPostTransport', () => {
  let sse: Upstream;
  let json: Upstream;
  let resumable: Upstream;

  beforeAll(async () => {
    [sse, json, resumable] = await Promise.all([startUpstream(), startUpstream('--json'), startUpstream('--resumable')]);
  });
  afterAll(async () => {
    await Promise.all([stop(sse), stop(json), stop(resumable)]);
  });

  it('POSTs with the headers the SDK transport sends, without the ones undici adds of its own', async () => {
    const configured = { 'X-Api-Key': 'k', Accept: 'text/plain' };
    const perRequest = { headers: { 'Mcp-Param-Region': 'eu', 'MCP-Session-Id': 'forged', 'Content-Type': 'text/plain', 'x-extra': 'e' } };
    const fast = new FastPostTransport(sse.url, configured);
    const sdk = new StreamableHTTPClientTransport(sse.url, { requestInit: { headers: configured } });
    const viaFast = JSON.parse((await call(await connect(deliverInOrder(fast)), 'headers', {}, perRequest)).content[0]!.text);
    const viaSdk = JSON.parse((await call(await connect(sdk), 'headers', {}, perRequest)).content[0]!.text);
    const { 'accept-language': _l, 'sec-fetch-mode': _m, 'user-agent': _u, 'accept-encoding': _e, ...sdkOwn } = viaSdk;
    expect(viaSdk['sec-fetch-mode']).toBe('cors');
    expect(viaFast).toEqual({ ...sdkOwn, 'mcp-session-id': fast.sessionId });
    expect(viaFast).toMatchObject({ accept: 'text/plain, application/json, text/event-stream', 'content-type': 'application/json', 'mcp-protocol-version': '2025-11-25' });
  });

  it('relays every progress notification of an SSE answer before its result', async () => {
    const client = await connect(deliverInOrder(new FastPostTransport(sse.url)));
    const seen: number[] = [];
    const result = await call(client, 'progress', { steps: 20 }, { onprogress: (progress) => void seen.push(progress.progress) });
    expect(result.content[0]!.text).toBe('done 20 steps');
    expect(seen).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it('answers sampling and elicitation requests the upstream sends mid-call', async () => {
    const client = await connect(deliverInOrder(new FastPostTransport(sse.url)));
    expect((await call(client, 'sample', { prompt: 'hi' })).content[0]!.text).toBe('sampled: {"type":"text","text":"sampled answer"}');
    expect((await call(client, 'elicit', { message: 'answer?' })).content[0]!.text).toBe('elicited: {"action":"accept","content":{"answer":"forty-two"}}');
  });

  it('says which request an upstream request arrived within, by the relatedRequestId that request was sent with', async () => {
    const fast = new FastPostTransport(sse.url);
    const client = await connect(deliverInOrder(fast));
    const asked: [unknown, unknown][] = [];
    client.fallbackRequestHandler = async (request) => {
      asked.push([request.params?.message, fast.relatedRequestOf(request.id)]);
      return { action: 'accept', content: {} };
    };
    await Promise.all([
      call(client, 'elicit', { message: 'later', delayMs: 100 }, { relatedRequestId: 'first' }),
      call(client, 'elicit', { message: 'at once' }, { relatedRequestId: 'second' }),
    ]);
    expect(asked).toEqual([
      ['at once', 'second'],
      ['later', 'first'],
    ]);
  });

  it('reads JSON answers, results and errors alike', async () => {
    const client = await connect(deliverInOrder(new FastPostTransport(json.url)));
    expect(await call(client, 'echo', { text: 'as json' })).toEqual({ content: [{ type: 'text', text: 'as json', 'x-vendor': { kept: true } }], 'x-result-extra': 42 });
    await expect(call(client, 'no_such_tool')).rejects.toMatchObject({ code: -32602, message: expect.stringContaining('Unknown tool: no_such_tool') });
  });

  it.each([
    ['an SSE stream', () => sse],
    ['a JSON body', () => json],
  ])('returns a 10 MB result sent as %s intact', async (_, upstream) => {
    const client = await connect(deliverInOrder(new FastPostTransport(upstream().url)));
    const text = (await call(client, 'big', { bytes: 10_000_000 })).content[0]!.text;
    expect(text).toBe('ab\u00e9\u20ac\u{1F600}xyz12'.repeat(625_000));
  });

  it('fails with the SDK’s 404 error once the upstream forgot the session, which UpstreamLink rebuilds', async () => {
    const client = await connect(deliverInOrder(new FastPostTransport(sse.url)));
    await call(client, 'echo', { text: 'before' });
    const link = new UpstreamLink({
      name: 'up',
      config: UpstreamConfigSchema.parse({ url: sse.url.href }),
      capabilities: {},
      clientInfo: { name: 'fast-post-test', version: '1.0.0' },
      era: 'legacy',
      connectTimeoutMs: 10_000,
      clock: systemClock,
      logger: createLogger('silent'),
      heldStates: new HeldStateSeal(),
    });
    try {
      await link.request('tools/call', { name: 'echo', arguments: { text: 'one' } });
      await fetch(new URL('/forget-sessions', sse.url));
      const error = await call(client, 'echo', { text: 'after' }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(SdkHttpError);
      expect(isSessionExpired(error)).toBe(true);
      expect((error as SdkHttpError).message).toContain('Session not found');
      expect(await link.request('tools/call', { name: 'echo', arguments: { text: 'two' } })).toMatchObject({ content: [{ text: 'two' }] });
    } finally {
      await link.close();
    }
  });

  it('cancels a call whose caller aborts it, and keeps serving', async () => {
    const client = await connect(deliverInOrder(new FastPostTransport(sse.url)));
    const abort = new AbortController();
    const pending = call(client, 'wait_for_cancel', {}, { signal: abort.signal });
    await expect.poll(async () => JSON.parse((await call(client, 'stats')).content[0]!.text).calls.wait_for_cancel).toBeGreaterThan(0);
    abort.abort('caller gave up');
    await expect(pending).rejects.toThrow('caller gave up');
    await expect.poll(async () => JSON.parse((await call(client, 'stats')).content[0]!.text).lastCancel).toContain('caller gave up');
  });

  it('hands a stream that ends without its response to the SDK, which resumes it with Last-Event-ID', async () => {
    const client = await connect(deliverInOrder(new FastPostTransport(resumable.url)));
    expect((await call(client, 'poll')).content[0]!.text).toBe('polled');
    expect((await call(client, 'progress', { steps: 2 })).content[0]!.text).toBe('done 2 steps');
  });

  it('rejects calls with the network error once the upstream is gone, as the SDK transport does', async () => {
    const doomed = await startUpstream();
    const transport = new FastPostTransport(doomed.url);
    const client = await connect(deliverInOrder(transport));
    const errors: Error[] = [];
    client.onerror = (error) => void errors.push(error);
    await call(client, 'echo', { text: 'alive' });
    await stop(doomed);
    // Refused, or reset if the pooled socket is taken before its close is seen: either is what fetch would meet.
    const error = await call(client, 'echo', { text: 'gone' }).catch((caught: { code?: string }) => caught);
    expect(['ECONNREFUSED', 'ECONNRESET']).toContain(error.code);
    // Reported as well as thrown; the SDK's GET stream may report its own disconnection beside it.
    expect(errors).toContain(error);
  });
});
