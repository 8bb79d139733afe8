/**
 * The 2026-07-28 arm of the HTTP endpoint: no sessions, a fresh SDK `Server` per request from a factory
 * (`createMcpHandler`), upstream links shared by all such requests.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

import { createMcpHandler, type Server, toNodeHandler } from '../sdk.js';
import type { ParamHeaderLookup } from '../param-header-lookup.js';
import { sendJsonRpcError } from './json-rpc-http.js';
import { checkParamHeaders, HEADER_MISMATCH } from './param-headers.js';

/**
 * Methods the 2026 era defines. Anything else is answered 404/-32601 here: relayed through the catch-all
 * handler it would come back in-band with HTTP 200, which the 2026 spec forbids (sdk-v2.md §2).
 */
const MODERN_METHODS = new Set([
  'server/discover',
  'tools/list',
  'tools/call',
  'resources/list',
  'resources/templates/list',
  'resources/read',
  'prompts/list',
  'prompts/get',
  'completion/complete',
  'subscriptions/listen',
]);

export type ModernHandler = (req: IncomingMessage, res: ServerResponse, body: unknown) => Promise<void>;

export interface ModernArmOptions {
  maxRequestBodySize: number;
  onerror: (error: Error) => void;
  /** The SEP-2243 header rules of the tool a tools/call names; without it Mcp-Param headers are only forwarded. */
  paramHeaderRules?: ParamHeaderLookup;
}

export function createModernArm(factory: () => Promise<Server>, options: ModernArmOptions): ModernHandler {
  const handler = createMcpHandler(factory, { legacy: 'reject', onerror: options.onerror, maxRequestBodySize: options.maxRequestBodySize });
  const node = toNodeHandler(handler, { onerror: options.onerror, maxRequestBodySize: options.maxRequestBodySize });
  return async (req, res, body) => {
    const message = body as { method?: unknown; id?: unknown; params?: { name?: unknown; arguments?: unknown } } | undefined;
    if (message && message.id !== undefined && typeof message.method === 'string' && !MODERN_METHODS.has(message.method)) {
      sendJsonRpcError(res, 404, -32601, `Method not found: ${message.method}`, message.id);
      return;
    }
    // Checked before the downstream server sees the call: the SDK answers a handler's error in-band with HTTP 200
    // where the spec wants 400, and a call whose headers lie must reach neither policy, approval nor upstream.
    const name = message?.method === 'tools/call' ? message.params?.name : undefined;
    const rules = typeof name === 'string' ? await options.paramHeaderRules?.(name) : undefined;
    const problem = rules && checkParamHeaders(rules, message?.params?.arguments, req.headers);
    if (problem) {
      sendJsonRpcError(res, 400, HEADER_MISMATCH, problem.message, message?.id ?? null, { header: problem.header });
      return;
    }
    await node(req, res, body);
  };
}
