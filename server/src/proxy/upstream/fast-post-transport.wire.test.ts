/**
 * What reaches the client from answers an SDK server would not send on its own: hand-written HTTP on loopback,
 * run against the SDK's StreamableHTTPClientTransport and FastPostTransport alike, which must not differ.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createGzip } from 'node:zlib';

import { InsufficientScopeError } from '@modelcontextprotocol/client';
import { afterEach, describe, expect, it } from 'vitest';

import { type JSONRPCMessage, SdkError, SdkErrorCode, SdkHttpError, StreamableHTTPClientTransport, type Transport } from '../sdk.js';
import { FastPostTransport } from './fast-post-transport.js';

interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  message: Record<string, unknown>;
  /** Resolves when the connection of this exchange is gone. */
  closed: Promise<unknown>;
}

const servers: { close(): void }[] = [];

/** An upstream whose initialize opens session "s1" and whose every other POST gets the scenario's answer. */
async function rawUpstream(answer: (exchange: Exchange) => unknown): Promise<{ url: URL; posts: Exchange[] }> {
  const posts: Exchange[] = [];
  const server = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += String(chunk);
    const message = JSON.parse(body) as Record<string, unknown>;
    if (message.method === 'initialize') {
      const result = { protocolVersion: '2025-11-25', capabilities: {}, serverInfo: { name: 'raw', version: '1.0.0' } };
      res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 's1' }).end(JSON.stringify({ jsonrpc: '2.0', id: message.id, result }));
      return;
    }
    const exchange = { req, res, message, closed: once(res, 'close') };
    posts.push(exchange);
    await answer(exchange);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push({ close: () => server.close() && server.closeAllConnections() });
  return { url: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`), posts };
}

afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

const TRANSPORTS = [
  { kind: 'the SDK transport', create: (url: URL, headers?: Record<string, string>): Transport => new StreamableHTTPClientTransport(url, { requestInit: { headers } }) },
  { kind: 'FastPostTransport', create: (url: URL, headers?: Record<string, string>): Transport => new FastPostTransport(url, headers) },
];

const CALL = { jsonrpc: '2.0' as const, id: 1, method: 'tools/call', params: { name: 'x', arguments: {} } };
const PROGRESS = { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 1, progress: 1, message: 'h\u00e9 \u{1F600}' } };
const RESULT = { jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: 'ok' }] } };

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Writes an SSE answer in pieces, with pauses so they travel as separate reads. */
async function stream(res: ServerResponse, pieces: (string | Buffer)[], end = true): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  for (const piece of pieces) {
    res.write(piece);
    await pause(5);
  }
  if (end) res.end();
}

/** A transport with a session on `url`, and what it reported so far. */
async function openWith(create: (url: URL, headers?: Record<string, string>) => Transport, url: URL, headers?: Record<string, string>) {
  const transport = create(url, headers);
  const seen = { messages: [] as JSONRPCMessage[], errors: [] as Error[], ends: 0, closed: false };
  transport.onmessage = (message) => void seen.messages.push(message);
  transport.onerror = (error) => void seen.errors.push(error);
  transport.onclose = () => void (seen.closed = true);
  await transport.start();
  await transport.send({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } });
  transport.setProtocolVersion?.('2025-11-25');
  seen.messages.length = 0;
  let ended: () => void = () => undefined;
  const streamEnded = new Promise<void>((resolve) => (ended = resolve));
  const options = {
    onRequestStreamEnd: () => {
      seen.ends += 1;
      ended();
    },
  };
  return { transport, seen, options, streamEnded };
}

describe.each(TRANSPORTS)('$kind', ({ create }) => {
  const open = (url: URL, headers?: Record<string, string>) => openWith(create, url, headers);

  it('delivers message events in order, across pieces split inside lines and characters, and skips the rest', async () => {
    const progress = Buffer.from(`id: \ndata: ${JSON.stringify(PROGRESS)}\n\n`);
    const inCharacter = progress.indexOf(Buffer.from('\u00e9')) + 1;
    const result = Buffer.from(`event: message\r\ndata: ${JSON.stringify(RESULT)}\r\n\r\n`);
    const skipped = ': comment\n\nevent: other\ndata: {"jsonrpc":"2.0","method":"x"}\n\n';
    const pieces = [skipped, progress.subarray(0, inCharacter), progress.subarray(inCharacter, -1), progress.subarray(-1), result.subarray(0, 40), result.subarray(40)];
    const { url } = await rawUpstream(({ res }) => stream(res, pieces));
    const { transport, seen, options, streamEnded } = await open(url);
    await transport.send(CALL, options);
    await streamEnded;
    expect(seen).toEqual({ messages: [PROGRESS, RESULT], errors: [], ends: 1, closed: false });
  });

  it('reports events that are not JSON-RPC messages through onerror and keeps reading', async () => {
    const { url } = await rawUpstream(({ res }) => stream(res, ['data: nope\n\n', 'data: [1]\n\n', 'data: {"jsonrpc":"2.0"}\n\n', `data: ${JSON.stringify(RESULT)}\n\n`]));
    const { transport, seen, options, streamEnded } = await open(url);
    await transport.send(CALL, options);
    await streamEnded;
    expect(seen.messages).toEqual([RESULT]);
    expect(seen.errors).toHaveLength(3);
  });

  it('calls onRequestStreamEnd when a stream without event ids ends before the response', async () => {
    const { url } = await rawUpstream(({ res }) => stream(res, [`data: ${JSON.stringify(PROGRESS)}\n\n`]));
    const { transport, seen, options, streamEnded } = await open(url);
    await transport.send(CALL, options);
    await streamEnded;
    expect(seen).toEqual({ messages: [PROGRESS], errors: [], ends: 1, closed: false });
  });

  it('reports a stream cut off by the upstream, then its end', async () => {
    const { url } = await rawUpstream(async ({ res }) => {
      await stream(res, [`data: ${JSON.stringify(PROGRESS)}\n\n`, 'data: {"jsonrpc":'], false);
      res.destroy();
    });
    const { transport, seen, options, streamEnded } = await open(url);
    await transport.send(CALL, options);
    await streamEnded;
    expect(seen.messages).toEqual([PROGRESS]);
    expect(seen.errors.map((error) => error.message)).toEqual([expect.stringMatching(/^SSE stream disconnected: /)]);
  });

  it('delivers every message of a JSON array answer before send resolves', async () => {
    const { url } = await rawUpstream(({ res }) => res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify([PROGRESS, RESULT])));
    const { transport, seen } = await open(url);
    await transport.send(CALL);
    expect(seen).toEqual({ messages: [PROGRESS, RESULT], errors: [], ends: 0, closed: false });
  });

  it('rejects and reports a JSON answer that is not a JSON-RPC message, delivering none of it', async () => {
    const { url } = await rawUpstream(({ res }) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify([RESULT, { nope: 1 }])));
    const { transport, seen } = await open(url);
    const error = await transport.send(CALL).catch((caught: Error) => caught);
    expect(seen.errors).toEqual([error]);
    expect(seen.messages).toEqual([]);
  });

  it('fails with the SDK’s HTTP error, status and body included, on an error status', async () => {
    const { url } = await rawUpstream(({ res }) => res.writeHead(500, 'Broken').end('boom'));
    const { transport, seen } = await open(url);
    const error = await transport.send(CALL).catch((caught: Error) => caught);
    expect(error).toBeInstanceOf(SdkHttpError);
    expect(error).toMatchObject({ code: SdkErrorCode.ClientHttpNotImplemented, message: 'Error POSTing to endpoint: boom', data: { status: 500, statusText: 'Broken', text: 'boom' } });
    expect(seen.errors).toEqual([error]);
  });

  it('fails on a content type that is neither JSON nor SSE', async () => {
    const { url } = await rawUpstream(({ res }) => res.writeHead(200, { 'content-type': 'text/plain' }).end('hello'));
    const { transport } = await open(url);
    const error = await transport.send(CALL).catch((caught: Error) => caught);
    expect(error).toBeInstanceOf(SdkError);
    expect(error).toMatchObject({ code: SdkErrorCode.ClientHttpUnexpectedContent, message: 'Unexpected content type: text/plain' });
  });

  it('POSTs notifications and responses as they are, and takes 202 for them as for a request', async () => {
    const { url, posts } = await rawUpstream(({ res }) => res.writeHead(202).end());
    const { transport, seen } = await open(url);
    const notification = { jsonrpc: '2.0' as const, method: 'notifications/cancelled', params: { requestId: 7, reason: 'stop' } };
    const response = { jsonrpc: '2.0' as const, id: 'srv-1', result: { action: 'accept' } };
    await transport.send(notification);
    await transport.send(response);
    await transport.send(CALL);
    expect(posts.map((post) => post.message)).toEqual([notification, response, CALL]);
    expect(posts.every((post) => post.req.headers['mcp-session-id'] === 's1')).toBe(true);
    expect(seen).toEqual({ messages: [], errors: [], ends: 0, closed: false });
  });

  it('rejects with the abort reason when the request signal aborts before the answer, reporting nothing', async () => {
    const { url, posts } = await rawUpstream(() => undefined);
    const { transport, seen } = await open(url);
    const abort = new AbortController();
    const sent = transport.send(CALL, { requestSignal: abort.signal });
    await expect.poll(() => posts.length).toBe(1);
    abort.abort();
    await expect(sent).rejects.toMatchObject({ name: 'AbortError' });
    await posts[0]!.closed;
    expect(seen.errors).toEqual([]);
  });

  it('closes the connection when the request signal aborts mid-stream, reporting nothing', async () => {
    const { url, posts } = await rawUpstream(({ res }) => stream(res, [`data: ${JSON.stringify(PROGRESS)}\n\n`], false));
    const { transport, seen, options } = await open(url);
    const abort = new AbortController();
    await transport.send(CALL, { ...options, requestSignal: abort.signal });
    await expect.poll(() => seen.messages).toEqual([PROGRESS]);
    abort.abort();
    await posts[0]!.closed;
    await pause(50);
    expect(seen).toEqual({ messages: [PROGRESS], errors: [], ends: 0, closed: false });
  });

  it('closes its streams when closed, reporting nothing but the close', async () => {
    const { url, posts } = await rawUpstream(({ res }) => stream(res, [`data: ${JSON.stringify(PROGRESS)}\n\n`], false));
    const { transport, seen, options } = await open(url);
    await transport.send(CALL, options);
    await expect.poll(() => seen.messages).toEqual([PROGRESS]);
    await transport.close();
    await posts[0]!.closed;
    await pause(50);
    expect(seen).toEqual({ messages: [PROGRESS], errors: [], ends: 0, closed: true });
  });

  it('follows a same-origin 307 redirect', async () => {
    const { url } = await rawUpstream(({ req, res }) => {
      if (req.url === '/mcp') res.writeHead(307, { location: '/moved' }).end();
      else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(RESULT));
    });
    const { transport, seen } = await open(url);
    await transport.send(CALL);
    expect(seen.messages).toEqual([RESULT]);
  });

  it('fails with InsufficientScopeError on an insufficient-scope challenge', async () => {
    const { url } = await rawUpstream(({ res }) => res.writeHead(403, { 'www-authenticate': 'Bearer error="insufficient_scope", scope="admin"' }).end('forbidden'));
    const { transport } = await open(url);
    const error = await transport.send(CALL).catch((caught: Error) => caught);
    expect(error).toBeInstanceOf(InsufficientScopeError);
    expect(error).toMatchObject({ requiredScope: 'admin' });
  });

  it('reads a gzip-compressed stream when a configured header asks for compression', async () => {
    const { url } = await rawUpstream(async ({ req, res }) => {
      expect(req.headers['accept-encoding']).toContain('gzip');
      res.writeHead(200, { 'content-type': 'text/event-stream', 'content-encoding': 'gzip' });
      const gzip = createGzip();
      gzip.pipe(res);
      gzip.write(`data: ${JSON.stringify(PROGRESS)}\n\n`);
      gzip.flush();
      await pause(20);
      gzip.end(`data: ${JSON.stringify(RESULT)}\n\n`);
    });
    const { transport, seen, options, streamEnded } = await open(url, { 'Accept-Encoding': 'gzip' });
    await transport.send(CALL, options);
    await streamEnded;
    expect(seen).toEqual({ messages: [PROGRESS, RESULT], errors: [], ends: 1, closed: false });
  });
});

describe('FastPostTransport with a message size limit', () => {
  const LIMIT = { maxBytes: 1024, upstream: 'Upstream "raw"', setting: 'servers.raw.maxMessageSize (1kb)' };
  const open = (url: URL) => openWith((target, headers) => new FastPostTransport(target, headers, LIMIT), url);
  const TOO_LARGE = {
    jsonrpc: '2.0',
    id: 1,
    error: { code: -32603, message: 'Upstream "raw" sent a message larger than servers.raw.maxMessageSize (1kb) while answering tools/call; Airlock dropped it' },
  };
  const textResult = (text: string) => ({ jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text }] } });

  it('answers the request with an error, instead of a JSON answer over the limit', async () => {
    const { url } = await rawUpstream(({ res }) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(textResult('x'.repeat(2000)))));
    const { transport, seen } = await open(url);
    await transport.send(CALL);
    expect(seen.messages).toEqual([TOO_LARGE]);
  });

  it('measures UTF-8 bytes: an event of fewer characters than the limit but more bytes is dropped', async () => {
    const { url } = await rawUpstream(({ res }) => stream(res, [`data: ${JSON.stringify(textResult('\u00e9'.repeat(600)))}\n\n`]));
    const { transport, seen, options, streamEnded } = await open(url);
    await transport.send(CALL, options);
    await streamEnded;
    expect(seen.messages).toEqual([TOO_LARGE]);
  });

  it('stops reading an event that grows past the limit before it ends, and closes its stream', async () => {
    const { url, posts } = await rawUpstream(({ res }) => stream(res, [`data: ${JSON.stringify(PROGRESS)}\n\n`, 'data: {"jsonrpc":"2.0","id":1,"result":{"x":"', 'y'.repeat(800), 'y'.repeat(800)], false));
    const { transport, seen, options, streamEnded } = await open(url);
    await transport.send(CALL, options);
    await streamEnded;
    await posts[0]!.closed;
    expect(seen.messages).toEqual([PROGRESS, TOO_LARGE]);
  });

  it('limits each event, not the stream: many small events pass', async () => {
    const events = Array.from({ length: 40 }, () => `data: ${JSON.stringify(PROGRESS)}\n\n`);
    const { url } = await rawUpstream(({ res }) => stream(res, [events.join(''), `data: ${JSON.stringify(RESULT)}\n\n`]));
    const { transport, seen, options, streamEnded } = await open(url);
    await transport.send(CALL, options);
    await streamEnded;
    expect(seen.messages).toHaveLength(41);
    expect(seen.messages.at(-1)).toEqual(RESULT);
  });
});
