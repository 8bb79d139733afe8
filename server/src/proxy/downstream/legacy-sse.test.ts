import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import { expect, it, onTestFinished } from 'vitest';

import { createLogger } from '../../log/logger.js';
import { Server } from '../sdk.js';
import { LegacySseSessions } from './legacy-sse.js';

it('closes the session, upstreams included, of a client that left GET /sse while its upstreams connected', async () => {
  let upstreamsConnected!: () => void;
  let closes = 0;
  const sessions = new LegacySseSessions(async () => {
    await new Promise<void>((resolve) => (upstreamsConnected = resolve));
    return { server: new Server({ name: 'gateway', version: '1' }, { capabilities: {} }), close: async () => void (closes += 1) };
  }, createLogger('silent'));
  let connecting: Promise<void> | undefined;
  let streamClosed: Promise<unknown> | undefined;
  const http = createServer((_req, res) => {
    streamClosed = once(res, 'close');
    connecting = sessions.connect('', res);
  });
  onTestFinished(() => {
    http.closeAllConnections();
    http.close();
  });
  await once(http.listen(0, '127.0.0.1'), 'listening');
  const leave = new AbortController();
  const stream = fetch(`http://127.0.0.1:${(http.address() as AddressInfo).port}/sse`, { signal: leave.signal }).catch(() => undefined);
  await expect.poll(() => connecting !== undefined).toBe(true);
  leave.abort();
  await stream;
  await streamClosed;
  upstreamsConnected();
  await connecting;
  expect(sessions.size).toBe(0);
  expect(closes).toBe(1);
});
