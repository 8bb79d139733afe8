import { parseJSONRPCMessage } from '@modelcontextprotocol/client';
import { describe, expect, it } from 'vitest';

import { toJsonRpcMessage } from './json-rpc-message.js';

const ENVELOPES: unknown[] = [
  { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'x' } },
  { jsonrpc: '2.0', id: 'a', method: 'ping' },
  { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 1, progress: 1 } },
  { jsonrpc: '2.0', id: 1, result: {} },
  { jsonrpc: '2.0', id: 1, result: { content: [], 'x-extra': 1 } },
  { jsonrpc: '2.0', id: 1, error: { code: -32601, message: 'no' } },
  { jsonrpc: '2.0', error: { code: -32700, message: 'parse', data: { at: 3 } } },
  null,
  'text',
  42,
  [{ jsonrpc: '2.0', id: 1, result: {} }],
  {},
  { jsonrpc: '1.0', id: 1, result: {} },
  { id: 1, result: {} },
  { jsonrpc: '2.0', id: 1.5, result: {} },
  { jsonrpc: '2.0', id: null, result: {} },
  { jsonrpc: '2.0', id: null, error: { code: 1, message: 'm' } },
  { jsonrpc: '2.0', id: true, method: 'ping' },
  { jsonrpc: '2.0', id: 1, result: [] },
  { jsonrpc: '2.0', id: 1, result: 'ok' },
  { jsonrpc: '2.0', result: {} },
  { jsonrpc: '2.0', id: 1, result: {}, extra: true },
  { jsonrpc: '2.0', method: 'n', params: [] },
  { jsonrpc: '2.0', method: 7 },
  { jsonrpc: '2.0', method: 'n', extra: 1 },
  { jsonrpc: '2.0', id: 1, error: { code: 1.5, message: 'm' } },
  { jsonrpc: '2.0', id: 1, error: { code: 1 } },
  { jsonrpc: '2.0', id: 1, error: 'bad' },
];

function sdkAccepts(value: unknown): boolean {
  try {
    parseJSONRPCMessage(value);
    return true;
  } catch {
    return false;
  }
}

describe('toJsonRpcMessage', () => {
  it.each(ENVELOPES.map((value) => [JSON.stringify(value), value]))('gives the SDK’s verdict on %s', (_, value) => {
    if (sdkAccepts(value)) expect(toJsonRpcMessage(value)).toBe(value);
    else expect(() => toJsonRpcMessage(value)).toThrow(/Invalid JSON-RPC message/);
  });

  it('admits what only the deeper schemas refuse, leaving it to the Protocol’s own checks', () => {
    const value = { jsonrpc: '2.0', method: 'notifications/progress', params: { _meta: { progressToken: 1.5 } } };
    expect(sdkAccepts(value)).toBe(false);
    expect(toJsonRpcMessage(value)).toBe(value);
  });
});
