/**
 * How a 2025-era session's requests are answered (proxy/downstream/session-transport.ts), seen on the wire by a
 * raw HTTP client: JSON when the answer is all there is, an SSE stream when progress must go first, an empty
 * stream for a request the client cancelled, a stream with keep-alive comments once a held call has been silent
 * for 15 s, and a hang-up treated as a cancellation: the held approval is left.
 */
import { request } from 'node:http';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startApprovalGateway, type ApprovalGateway } from './helpers/approval-gateway.js';

const POLICY = {
  version: '1',
  default: 'allow',
  tools: { touch: { action: 'require_approval', approval: { approvers: ['web:alice'] } } },
};

describe('answers to a session’s requests', () => {
  let gw: ApprovalGateway;
  let session = '';
  const headers = () => ({
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': '2025-11-25',
    ...(session ? { 'mcp-session-id': session } : {}),
  });
  const post = (body: unknown, signal?: AbortSignal) =>
    fetch(`${gw.url}/mcp`, { method: 'POST', headers: headers(), body: JSON.stringify(body), ...(signal ? { signal } : {}) });
  const call = (id: number, name: string, args: Record<string, unknown>, meta?: Record<string, unknown>) =>
    ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args, ...(meta ? { _meta: meta } : {}) } });
  const pending = async (tool: string) => (await gw.service.list({ status: 'pending' })).find((a) => a.tool === tool);

  beforeAll(async () => {
    gw = await startApprovalGateway('pglite', POLICY, { syncCap: '10m', heartbeat: '10m' });
    const init = await post({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    });
    session = init.headers.get('mcp-session-id') ?? '';
    await init.text();
    await (await post({ jsonrpc: '2.0', method: 'notifications/initialized' })).text();
  }, 60_000);
  afterAll(async () => {
    await gw?.close();
  });

  it('answers a call with nothing to stream as one JSON response carrying the session id', async () => {
    const response = await post(call(1, 'test__echo', { text: 'plain' }));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(response.headers.get('mcp-session-id')).toBe(session);
    expect(await response.json()).toMatchObject({ jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: 'plain' }] } });
  });

  it('switches to an SSE stream when progress goes before the answer, in order', async () => {
    const response = await post(call(2, 'test__progress', { steps: 2 }, { progressToken: 'p-2' }));
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    const events = (await response.text())
      .split('\n\n')
      .filter((event) => event.startsWith('event: message\ndata: '))
      .map((event) => JSON.parse(event.slice('event: message\ndata: '.length)) as Record<string, unknown>);
    expect(events.map((event) => event.method ?? 'answer')).toEqual(['notifications/progress', 'notifications/progress', 'answer']);
    expect(events[0]).toMatchObject({ params: { progressToken: 'p-2', progress: 1 } });
    expect(events[2]).toMatchObject({ id: 2, result: { content: [{ type: 'text', text: 'done 2 steps' }] } });
  });

  it('ends the stream of a request the client cancelled, without an answer', async () => {
    const held = post(call(3, 'test__touch', {}));
    await expect.poll(async () => (await pending('touch'))?.id).toBeDefined();
    const cancel = await post({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 3, reason: 'stop' } });
    expect(cancel.status).toBe(202);
    const response = await held;
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('');
    await expect.poll(async () => (await pending('touch'))?.id).toBeUndefined();
  });

  it('turns a held call silent for 15 s into a stream with a keep-alive comment, then answers on it', async () => {
    const body = JSON.stringify(call(8, 'test__touch', {}));
    const chunks: string[] = [];
    let contentType: string | undefined;
    const ended = new Promise<void>((resolve, reject) => {
      const req = request(`${gw.url}/mcp`, { method: 'POST', headers: { ...headers(), 'content-length': Buffer.byteLength(body) } }, (res) => {
        contentType = res.headers['content-type'];
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => chunks.push(chunk));
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end(body);
    });
    let id = '';
    await expect.poll(async () => (id = (await pending('touch'))?.id ?? '')).not.toBe('');
    const opened = Date.now();
    gw.gateway.sessions.keepAlive(opened + 5_000);
    gw.gateway.sessions.keepAlive(opened + 15_000);
    await expect.poll(() => chunks.join('')).toBe(': keepalive\n\n');
    expect(contentType).toBe('text/event-stream');
    // Silence is counted from the last comment: 10 s later there is nothing to send yet.
    gw.gateway.sessions.keepAlive(opened + 25_000);
    await gw.service.decide(id, { decision: 'approve' }, { id: 'web:alice', via: 'web' });
    await ended;
    const [comment, event] = chunks.join('').split('\n\n');
    expect(comment).toBe(': keepalive');
    expect(JSON.parse(event!.slice('event: message\ndata: '.length))).toMatchObject({ id: 8, result: { content: [{ type: 'text' }] } });
  });

  it('treats a client that hangs up on a held call as cancelling it: the approval is left', async () => {
    // node:http rather than fetch: destroying the socket is exactly what a client that went away does.
    const body = JSON.stringify(call(4, 'test__touch', {}));
    const req = request(`${gw.url}/mcp`, { method: 'POST', headers: { ...headers(), 'content-length': Buffer.byteLength(body) } });
    req.on('error', () => undefined);
    req.end(body);
    let id = '';
    await expect.poll(async () => (id = (await pending('touch'))?.id ?? '')).not.toBe('');
    req.destroy();
    await expect.poll(async () => (await gw.service.get(id))?.status).toBe('cancelled');
    expect((await gw.service.get(id))?.reason).toContain('the client disconnected');
  });

  it('leaves what it does not answer itself to the SDK transport: a batch, a wrong Accept header', async () => {
    const batch = await post([call(5, 'test__echo', { text: 'a' }), call(6, 'test__echo', { text: 'b' })]);
    expect(batch.headers.get('content-type')).toBe('text/event-stream');
    const answers = await batch.text();
    expect(answers).toContain('"id":5');
    expect(answers).toContain('"id":6');
    const wrongAccept = await fetch(`${gw.url}/mcp`, { method: 'POST', headers: { ...headers(), accept: 'application/json' }, body: JSON.stringify(call(7, 'test__echo', { text: 'c' })) });
    expect(wrongAccept.status).toBe(406);
  });
});
