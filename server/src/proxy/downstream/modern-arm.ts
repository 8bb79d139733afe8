/**
 * The 2026-07-28 arm of the HTTP endpoint: no sessions, a fresh SDK `Server` per request from a factory
 * (`createMcpHandler`), upstream links shared by all such requests.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

import { createMcpHandler, type Server, toNodeHandler } from '../sdk.js';
import { sendJsonRpcError } from './json-rpc-http.js';

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

export function createModernArm(factory: () => Promise<Server>, options: { maxRequestBodySize: number; onerror: (error: Error) => void }): ModernHandler {
  const handler = createMcpHandler(factory, { legacy: 'reject', onerror: options.onerror, maxRequestBodySize: options.maxRequestBodySize });
  const node = toNodeHandler(handler, { onerror: options.onerror, maxRequestBodySize: options.maxRequestBodySize });
  return async (req, res, body) => {
    const message = body as { method?: unknown; id?: unknown } | undefined;
    if (message && message.id !== undefined && typeof message.method === 'string' && !MODERN_METHODS.has(message.method)) {
      sendJsonRpcError(res, 404, -32601, `Method not found: ${message.method}`, message.id);
      return;
    }
    await node(req, res, body);
  };
}
