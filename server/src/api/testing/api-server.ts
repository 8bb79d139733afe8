/**
 * Test scaffolding: the API router and the approval stream on a real HTTP server on 127.0.0.1, mounted as the
 * gateway mounts them, plus a websocket client that queues messages so a test can await each one in order.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import express from 'express';
import { type ClientOptions, WebSocket } from 'ws';

import type { ApprovalDesk } from '../../approval/approval.js';
import { type ApiAuthOptions, createApiAuth } from '../api-auth.js';
import { attachApprovalStream } from '../approval-stream.js';
import { createApiRouter } from '../approvals-routes.js';

export interface ApiServer {
  server: Server;
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** `ws://127.0.0.1:<port>/api/stream` */
  streamUrl: string;
  close(): Promise<void>;
}

export async function startApiServer(desk: Pick<ApprovalDesk, 'list' | 'get' | 'decide' | 'subscribe'>, authOptions: ApiAuthOptions, streamOptions: { pingIntervalMs?: number } = {}): Promise<ApiServer> {
  const auth = createApiAuth(authOptions);
  const app = express();
  app.use('/api', createApiRouter({ desk, auth }));
  const server = createServer(app);
  const stream = attachApprovalStream(server, { desk, auth, ...streamOptions });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    streamUrl: `ws://127.0.0.1:${port}/api/stream`,
    close: async () => {
      await stream.close();
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}

export interface StreamClient {
  ws: WebSocket;
  /** The next message not yet taken, parsed. */
  next(): Promise<unknown>;
  /** Resolves with the close code once the connection is closed. */
  closed: Promise<number>;
}

/** Opens a client that buffers from the first byte, so no message can arrive before a test listens for it. */
export function connectStream(url: string, protocols: string[] = [], options: ClientOptions = {}): StreamClient {
  const ws = new WebSocket(url, protocols, options);
  const queued: unknown[] = [];
  const waiting: ((message: unknown) => void)[] = [];
  ws.on('message', (data) => {
    const message: unknown = JSON.parse(String(data));
    const waiter = waiting.shift();
    if (waiter) waiter(message);
    else queued.push(message);
  });
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  return {
    ws,
    next: () => (queued.length > 0 ? Promise.resolve(queued.shift()) : new Promise((resolve) => waiting.push(resolve))),
    closed,
  };
}

/** Resolves with the status and JSON body of a refused upgrade. */
export function refusedUpgrade(url: string, protocols: string[] = [], options: ClientOptions = {}): Promise<{ status: number; body: unknown }> {
  const ws = new WebSocket(url, protocols, options);
  return new Promise((resolve, reject) => {
    ws.once('open', () => reject(new Error('the upgrade was accepted')));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as unknown }));
    });
  });
}
