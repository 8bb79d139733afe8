/**
 * boundedFetch against a loopback HTTP server writing the bytes each case names, read with Node's own fetch as the
 * SDK's transports read them: JSON bodies by size, SSE streams event by event.
 */
import { once } from 'node:events';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { boundedFetch } from './bounded-fetch.js';

const LIMIT = { maxBytes: 100, upstream: 'Upstream "files"', setting: 'servers.files.maxMessageSize (100b)' };
const TOO_LARGE = 'Upstream "files" sent a message larger than servers.files.maxMessageSize (100b); Airlock dropped it and closed the connection';

/** What the server writes for each path: a content type and its chunks, written as they come. */
const routes: Record<string, { type: string; chunks: (string | Buffer)[]; status?: number; location?: string }> = {};
let base: string;
let server: ReturnType<typeof createServer>;

beforeAll(async () => {
  server = createServer((req, res: ServerResponse) => {
    const route = routes[req.url ?? '']!;
    res.writeHead(route.status ?? 200, { ...(route.type ? { 'content-type': route.type } : {}), ...(route.location ? { location: route.location } : {}) });
    for (const chunk of route.chunks) res.write(chunk);
    res.end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.close();
});

function counting(): { dropped: () => void; count: () => number } {
  let count = 0;
  return { dropped: () => void (count += 1), count: () => count };
}

describe('boundedFetch', () => {
  it('passes a JSON body up to the limit whole, and fails a larger one naming the upstream and the setting', async () => {
    const fits = JSON.stringify({ text: 'x'.repeat(80) });
    routes['/fits'] = { type: 'application/json', chunks: [fits.slice(0, 40), fits.slice(40)] };
    routes['/large'] = { type: 'application/json; charset=utf-8', chunks: [JSON.stringify({ text: 'x'.repeat(60) }), JSON.stringify({ more: 'y'.repeat(60) })] };
    const { dropped, count } = counting();
    const fetch = boundedFetch(LIMIT, dropped);

    expect(await (await fetch(`${base}/fits`)).json()).toEqual({ text: 'x'.repeat(80) });
    await expect((await fetch(`${base}/large`)).text()).rejects.toThrow(TOO_LARGE);
    expect(count()).toBe(1);
  });

  it('counts bytes, not characters', async () => {
    // 30 characters of 4 bytes each: 120 bytes.
    routes['/emoji'] = { type: 'application/json', chunks: [JSON.stringify('\u{1F600}'.repeat(30))] };
    await expect((await boundedFetch(LIMIT)(`${base}/emoji`)).text()).rejects.toThrow(TOO_LARGE);
  });

  it('bounds each SSE event, not the stream: many small events pass, with LF, CRLF and CR line ends', async () => {
    const events = [`data: ${'a'.repeat(60)}\n\n`, `data: ${'b'.repeat(60)}\r\n\r\n`, `data: ${'c'.repeat(60)}\r\r`, `id: 4\ndata: ${'d'.repeat(40)}\ndata: ${'e'.repeat(40)}\n\n`];
    routes['/events'] = { type: 'text/event-stream', chunks: events };
    const { dropped, count } = counting();

    expect(await (await boundedFetch(LIMIT, dropped)(`${base}/events`)).text()).toBe(events.join(''));
    expect(count()).toBe(0);
  });

  const readAll = async (response: Response) => {
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let read = '';
    for (;;) {
      const next = await reader.read().catch((error: Error) => error);
      if (next instanceof Error) return { read, error: next.message };
      if (next.done) return { read, error: undefined };
      read += next.value;
    }
  };
  const large = `data: ${'z'.repeat(50)}\ndata: ${'z'.repeat(50)}\n\n`;

  it('ends an SSE stream at an event larger than the limit, delivering the events before it in the same chunk', async () => {
    routes['/large-event'] = { type: 'text/event-stream', chunks: [`data: first\n\ndata: second\r\n\r\n${large}data: never\n\n`] };
    const { dropped, count } = counting();
    expect(await readAll(await boundedFetch(LIMIT, dropped)(`${base}/large-event`))).toEqual({ read: 'data: first\n\ndata: second\r\n\r\n', error: TOO_LARGE });
    expect(count()).toBe(1);
  });

  it('ends it too when the event arrives a byte at a time', async () => {
    routes['/trickle'] = { type: 'text/event-stream', chunks: ['data: small\n\n', ...[...large].map((c) => Buffer.from(c))] };
    const { read, error } = await readAll(await boundedFetch(LIMIT)(`${base}/trickle`));
    expect(error).toBe(TOO_LARGE);
    expect(read.startsWith('data: small\n\n')).toBe(true);
    expect(read.length).toBeLessThan('data: small\n\n'.length + large.length);
  });

  it('leaves a redirect as fetch gave it, for the SDK to read its url and Location', async () => {
    routes['/moved'] = { type: 'text/plain', chunks: ['x'.repeat(200)], status: 307, location: '/elsewhere' };
    const response = await boundedFetch(LIMIT)(`${base}/moved`, { redirect: 'manual' });
    expect(response.status).toBe(307);
    expect(response.url).toBe(`${base}/moved`);
    expect(response.headers.get('location')).toBe('/elsewhere');
  });

  it('leaves a response without a body as it is', async () => {
    routes['/accepted'] = { type: '', chunks: [], status: 202 };
    const response = await boundedFetch(LIMIT)(`${base}/accepted`);
    expect(response.status).toBe(202);
    expect(await response.text()).toBe('');
  });
});
