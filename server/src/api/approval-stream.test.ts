import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';

import type { SessionResolver } from './api-auth.js';
import { type ApiServer, connectStream, refusedUpgrade, startApiServer } from './testing/api-server.js';
import { MemoryDesk } from './testing/memory-desk.js';

const TOKEN = 'stream-admin-token-42';
const ADMIN = { headers: { authorization: `Bearer ${TOKEN}` } };

/** Cookie `session=alice` is alice's console session for as long as she is in `signedIn`. */
const signedIn = new Set<string>();
const sessions: SessionResolver = {
  resolve: async (req: IncomingMessage) =>
    req.headers.cookie === 'session=alice' && signedIn.has('alice') ? { actor: { id: 'web:alice', via: 'web' }, csrfToken: 'csrf-alice' } : undefined,
  stillLive: async (req: IncomingMessage) => req.headers.cookie === 'session=alice' && signedIn.has('alice'),
};

let desk: MemoryDesk;
let api: ApiServer;

describe('attachApprovalStream', () => {
  beforeEach(async () => {
    signedIn.clear();
    signedIn.add('alice');
    desk = new MemoryDesk();
    api = await startApiServer(desk, { adminToken: TOKEN, sessions });
  });
  afterEach(() => api.close());

  describe('when the upgrade is not authenticated', () => {
    it('answers 401 on the raw socket without credentials', async () => {
      const refused = await refusedUpgrade(api.streamUrl);
      expect(refused.status).toBe(401);
      expect(refused.body).toEqual({ error: { code: 'UNAUTHORIZED', message: expect.stringMatching(/Sign in to the console/) } });
      expect(desk.listenerCount).toBe(0);
    });

    it('answers 401 to a wrong token, in the header or as a subprotocol', async () => {
      expect((await refusedUpgrade(api.streamUrl, [], { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
      expect((await refusedUpgrade(api.streamUrl, ['airlock', 'bearer.wrong'])).status).toBe(401);
    });

    it('refuses a session cookie sent from another origin', async () => {
      const refused = await refusedUpgrade(api.streamUrl, [], { headers: { cookie: 'session=alice' }, origin: 'https://evil.example' });
      expect(refused.status).toBe(403);
      expect(refused.body).toMatchObject({ error: { code: 'FORBIDDEN' } });
    });
  });

  describe('when the upgrade is authenticated', () => {
    it('greets with the open approvals (pending, and abandoned by a stopped gateway), oldest first', async () => {
      const first = desk.add();
      desk.add({ status: 'rejected' });
      const second = desk.add({ status: 'abandoned' });
      const third = desk.add();
      const client = connectStream(api.streamUrl, [], ADMIN);
      expect(await client.next()).toEqual({ type: 'hello', pending: [first, second, third] });
      client.ws.close();
    });

    it('accepts the token as a bearer.<token> subprotocol and answers with the other protocol offered', async () => {
      const client = connectStream(api.streamUrl, ['airlock', `bearer.${TOKEN}`]);
      expect(await client.next()).toEqual({ type: 'hello', pending: [] });
      expect(client.ws.protocol).toBe('airlock');
      client.ws.close();
    });

    it('accepts a console session from its own origin', async () => {
      const client = connectStream(api.streamUrl, [], { headers: { cookie: 'session=alice' }, origin: api.url });
      expect(await client.next()).toEqual({ type: 'hello', pending: [] });
      client.ws.close();
    });

    it('pushes each desk event in the same tick the desk reports it', async () => {
      const client = connectStream(api.streamUrl, [], ADMIN);
      await client.next();
      const send = vi.spyOn(WebSocket.prototype, 'send');
      const created = desk.add();
      // Sent synchronously inside the desk's listener call: nothing is batched or deferred.
      expect(send).toHaveBeenCalledWith(JSON.stringify({ type: 'created', approval: created }));
      send.mockRestore();
      expect(await client.next()).toEqual({ type: 'created', approval: created });
      const outcome = await desk.decide(created.id, { decision: 'reject', reason: 'no' }, { id: 'web:admin', via: 'web' });
      expect(await client.next()).toEqual({ type: 'decided', approval: outcome.ok && outcome.approval });
      client.ws.close();
    });

    it('sends an event that happens while the queue is read after the hello, never before', async () => {
      const list = desk.list.bind(desk);
      let late: unknown;
      desk.list = async (filter) => {
        const pending = await list(filter);
        late = desk.add();
        return pending;
      };
      const client = connectStream(api.streamUrl, [], ADMIN);
      expect(await client.next()).toEqual({ type: 'hello', pending: [] });
      expect(await client.next()).toEqual({ type: 'created', approval: late });
      client.ws.close();
    });

    it('unsubscribes from the desk when the client leaves', async () => {
      const client = connectStream(api.streamUrl, [], ADMIN);
      await client.next();
      expect(desk.listenerCount).toBe(1);
      client.ws.close();
      await client.closed;
      await vi.waitFor(() => expect(desk.listenerCount).toBe(0));
    });

    it('closes with 1011 when the pending queue cannot be read', async () => {
      desk.list = () => Promise.reject(new Error('storage down'));
      const client = connectStream(api.streamUrl, [], ADMIN);
      expect(await client.closed).toBe(1011);
    });
  });

  describe('when a client stops answering pings', () => {
    it('drops it', async () => {
      await api.close();
      api = await startApiServer(desk, { adminToken: TOKEN }, { pingIntervalMs: 20 });
      const client = connectStream(api.streamUrl, [], { ...ADMIN, autoPong: false });
      await client.next();
      // 1006: the server cut the connection without a close frame.
      expect(await client.closed).toBe(1006);
      await vi.waitFor(() => expect(desk.listenerCount).toBe(0));
    });
  });

  describe('when a console session ends while its socket is open', () => {
    it('closes that socket with 1008 at the next ping, and keeps the admin token’s open', async () => {
      await api.close();
      api = await startApiServer(desk, { adminToken: TOKEN, sessions }, { pingIntervalMs: 20 });
      const alice = connectStream(api.streamUrl, [], { headers: { cookie: 'session=alice' }, origin: api.url });
      const admin = connectStream(api.streamUrl, [], ADMIN);
      await alice.next();
      await admin.next();
      signedIn.delete('alice');
      expect(await alice.closed).toBe(1008);
      // The admin socket went through the same pings and still hears the desk.
      const created = desk.add();
      expect(await admin.next()).toEqual({ type: 'created', approval: created });
      admin.ws.close();
    });

    it('keeps the socket open while the session cannot be checked, and closes it once it can', async () => {
      await api.close();
      let storageUp = false;
      const flaky: SessionResolver = {
        resolve: sessions.resolve,
        stillLive: async (req) => {
          if (!storageUp) throw new Error('storage down');
          return sessions.stillLive(req);
        },
      };
      api = await startApiServer(desk, { adminToken: TOKEN, sessions: flaky }, { pingIntervalMs: 20 });
      const alice = connectStream(api.streamUrl, [], { headers: { cookie: 'session=alice' }, origin: api.url });
      await alice.next();
      signedIn.delete('alice');
      const checked = vi.spyOn(flaky, 'stillLive');
      await vi.waitFor(() => expect(checked).toHaveBeenCalledTimes(2));
      expect(alice.ws.readyState).toBe(WebSocket.OPEN);
      storageUp = true;
      expect(await alice.closed).toBe(1008);
    });
  });

  it('leaves upgrades on other paths to their owners', async () => {
    api.server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
      if (req.url === '/other') socket.end('HTTP/1.1 418 I\'m a Teapot\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}');
    });
    expect((await refusedUpgrade(`${api.streamUrl.replace('/api/stream', '/other')}`)).status).toBe(418);
  });

  it('close() drops every client and unsubscribes', async () => {
    const client = connectStream(api.streamUrl, [], ADMIN);
    await client.next();
    await api.close();
    await client.closed;
    expect(desk.listenerCount).toBe(0);
    api = await startApiServer(desk, { adminToken: TOKEN });
  });
});
