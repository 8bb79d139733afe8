/**
 * SEP-2243 at the gateway: a 2026 tools/call whose Mcp-Param-* headers disagree with its arguments is answered by
 * the gateway itself with HTTP 400 and -32020, before policy, approval or the upstream; a call whose headers agree
 * goes through with them forwarded. The upstream (test-upstream, 2025 era) checks nothing itself.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { connectClient, rawCall, startGateway, startHttpUpstream, textOf, type RunningGateway } from './helpers/gateway.js';

const ENVELOPE = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
  'io.modelcontextprotocol/clientCapabilities': {},
};

/** A 2026 tools/call as a client sends it on the wire, with the given Mcp-Param-* headers. */
async function call(url: string, name: string, args: Record<string, unknown>, paramHeaders: Record<string, string>) {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': 'tools/call',
      'mcp-name': name,
      ...paramHeaders,
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name, arguments: args, _meta: ENVELOPE } }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('Mcp-Param headers on 2026 tools/call', () => {
  let upstream: Awaited<ReturnType<typeof startHttpUpstream>>;
  let gw: RunningGateway;

  beforeAll(async () => {
    upstream = await startHttpUpstream();
    gw = await startGateway({ servers: { test: { url: upstream.url } } });
  });
  afterAll(async () => {
    await gw?.close();
    await upstream?.close();
  });

  async function upstreamCalls(): Promise<number> {
    const client = await connectClient(`${gw.url}/mcp`, { modern: true });
    try {
      return (JSON.parse(textOf(await rawCall(client, 'test__stats'))) as { calls: Record<string, number> }).calls.regional ?? 0;
    } finally {
      await client.close();
    }
  }

  it('refuses a mismatch even when no client has listed tools through this gateway yet', async () => {
    const refused = await call(`${gw.url}/mcp/test`, 'regional', { region: 'us-west1' }, { 'Mcp-Param-Region': 'eu-west1' });
    expect(refused).toEqual({
      status: 400,
      body: {
        jsonrpc: '2.0',
        id: 7,
        error: {
          code: -32020,
          message: 'Header mismatch: the Mcp-Param-Region header is "eu-west1" but arguments.region is "us-west1"',
          data: { header: 'Mcp-Param-Region' },
        },
      },
    });
  });

  it('refuses missing, mismatched and malformed headers on /mcp and /mcp/test without calling the upstream', async () => {
    const before = await upstreamCalls();
    for (const [url, name] of [
      [`${gw.url}/mcp`, 'test__regional'],
      [`${gw.url}/mcp/test`, 'regional'],
    ] as const) {
      const missing = await call(url, name, { region: 'us-west1' }, {});
      expect(missing.status).toBe(400);
      expect(missing.body.error).toMatchObject({ code: -32020, message: expect.stringContaining('Mcp-Param-Region header that mirrors it is missing') });
      const mismatched = await call(url, name, { region: 'us-west1' }, { 'mcp-param-region': 'US-WEST1' });
      expect(mismatched.status).toBe(400);
      expect(mismatched.body.error).toMatchObject({ code: -32020, data: { header: 'Mcp-Param-Region' } });
      const malformed = await call(url, name, { region: 'Hello' }, { 'MCP-PARAM-REGION': '=?base64?SGVsbG8?=' });
      expect(malformed.status).toBe(400);
      expect(malformed.body.error).toMatchObject({ code: -32020, message: expect.stringContaining('not valid Base64') });
    }
    expect(await upstreamCalls()).toBe(before);
  });

  it('forwards a call whose headers agree, the headers included, on both endpoints', async () => {
    const client = await connectClient(`${gw.url}/mcp`, { modern: true });
    try {
      await client.listTools();
      // The SDK client mirrors the argument itself from the listed schema, Base64-encoding what is not plain ASCII.
      expect(textOf(await client.callTool({ name: 'test__regional', arguments: { region: 'eu-west1' } }))).toBe('region=eu-west1 header=eu-west1');
      expect(textOf(await client.callTool({ name: 'test__regional', arguments: { region: 'Zürich' } }))).toBe('region=Zürich header==?base64?WsO8cmljaA==?=');
    } finally {
      await client.close();
    }
    const direct = await call(`${gw.url}/mcp/test`, 'regional', { region: 'eu-west1' }, { 'Mcp-Param-Region': 'eu-west1' });
    expect(direct.status).toBe(200);
    expect(textOf(direct.body.result as Record<string, unknown>)).toBe('region=eu-west1 header=eu-west1');
  });

  it('leaves Mcp-Param headers alone on tools that declare none', async () => {
    const echoed = await call(`${gw.url}/mcp`, 'test__echo', { text: 'hi' }, { 'Mcp-Param-Region': 'anything' });
    expect(echoed.status).toBe(200);
    expect(textOf(echoed.body.result as Record<string, unknown>)).toBe('hi');
  });
});
