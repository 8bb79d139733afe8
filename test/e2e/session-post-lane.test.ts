/**
 * POSTs on an open session skip Express (gateway/session-post-lane.ts). They must meet every check the Express
 * route applies, with the same answers: API key, the session's own key, JSON, body limit, DNS rebinding.
 */
import { createHash } from 'node:crypto';
import { request } from 'node:http';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startGateway, startHttpUpstream, TEST_UPSTREAM, tsxCommand, type RunningGateway } from './helpers/gateway.js';

const KEYS = { ci: 'lane-key-ci', ops: 'lane-key-ops' };
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** node:http, so the Host header and the body bytes are exactly what the test says. */
function post(url: string, headers: Record<string, string>, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'content-length': String(Buffer.byteLength(body)), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('POSTs on an open session', () => {
  let gw: RunningGateway;
  let web: Awaited<ReturnType<typeof startHttpUpstream>>;
  let session = '';
  const headers = (key: string | undefined, extra: Record<string, string> = {}) => ({
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': '2025-11-25',
    ...(session ? { 'mcp-session-id': session } : {}),
    ...(key ? { authorization: `Bearer ${key}` } : {}),
    ...extra,
  });
  const echo = JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'test__echo', arguments: { text: 'lane' } } });

  beforeAll(async () => {
    web = await startHttpUpstream();
    gw = await startGateway({
      listen: { port: 0 },
      servers: { test: tsxCommand(TEST_UPSTREAM), web: { url: web.url } },
      sessions: { maxRequestBody: '2kb' },
      grants: [
        { name: 'ci', key_sha256: sha256(KEYS.ci) },
        { name: 'ops', key_sha256: sha256(KEYS.ops) },
      ],
    });
    const init = await fetch(`${gw.url}/mcp`, {
      method: 'POST',
      headers: headers(KEYS.ci),
      body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }),
    });
    session = init.headers.get('mcp-session-id') ?? '';
    await init.text();
    expect(session).not.toBe('');
  }, 60_000);
  afterAll(async () => {
    await gw?.close();
    await web?.close();
  });

  it('serves a call with the key that opened the session', async () => {
    const response = await post(`${gw.url}/mcp`, headers(KEYS.ci), echo);
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body)).toMatchObject({ id: 9, result: { content: [{ text: 'lane' }] } });
  });

  it('forwards the Mcp-Param headers of the call to a Streamable HTTP upstream', async () => {
    const call = JSON.stringify({ jsonrpc: '2.0', id: 11, method: 'tools/call', params: { name: 'web__headers', arguments: {} } });
    const response = await post(`${gw.url}/mcp`, headers(KEYS.ci, { 'mcp-param-region': 'eu-west-1', 'x-not-mirrored': 'no' }), call);
    expect(response.status).toBe(200);
    const seen = JSON.parse(JSON.parse(response.body).result.content[0].text) as Record<string, string>;
    expect(seen['mcp-param-region']).toBe('eu-west-1');
    expect(seen['x-not-mirrored']).toBeUndefined();
  });

  it('reads a body that starts with a UTF-8 byte order mark, as Express’s parser does', async () => {
    const response = await post(`${gw.url}/mcp`, headers(KEYS.ci), `\uFEFF${echo}`);
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body)).toMatchObject({ id: 9, result: { content: [{ text: 'lane' }] } });
  });

  it('answers 401 without a key and 403 with another grant’s key', async () => {
    const missing = await post(`${gw.url}/mcp`, headers(undefined), echo);
    expect(missing.status).toBe(401);
    expect(JSON.parse(missing.body).error.message).toContain('Authorization: Bearer');
    const other = await post(`${gw.url}/mcp`, headers(KEYS.ops), echo);
    expect(other.status).toBe(403);
    expect(JSON.parse(other.body).error.message).toContain('another API key');
  });

  it('answers bad JSON and a bare JSON value with a parse error', async () => {
    for (const body of ['{"jsonrpc": "2.0",', '"just a string"']) {
      const response = await post(`${gw.url}/mcp`, headers(KEYS.ci), body);
      expect(response.status).toBe(400);
      expect(JSON.parse(response.body).error).toMatchObject({ code: -32700, message: expect.stringContaining('not valid JSON') });
    }
  });

  it('refuses a body over sessions.maxRequestBody with 413 naming the limit', async () => {
    const big = JSON.stringify({ jsonrpc: '2.0', id: 10, method: 'tools/call', params: { name: 'test__echo', arguments: { text: 'x'.repeat(4096) } } });
    const response = await post(`${gw.url}/mcp`, headers(KEYS.ci), big);
    expect(response.status).toBe(413);
    expect(JSON.parse(response.body).error.message).toContain('2kb');
  });

  it('refuses a foreign Host header (DNS rebinding) with 403', async () => {
    const response = await post(`${gw.url}/mcp`, headers(KEYS.ci, { host: 'evil.example:80' }), echo);
    expect(response.status).toBe(403);
    expect(JSON.parse(response.body).error.message).toContain('evil.example');
  });

  it('answers an unknown server on an open session with 404 naming the configured ones', async () => {
    const response = await post(`${gw.url}/mcp/nope`, headers(KEYS.ci), echo);
    expect(response.status).toBe(404);
    expect(JSON.parse(response.body).error.message).toContain('No upstream server named "nope"');
  });
});
