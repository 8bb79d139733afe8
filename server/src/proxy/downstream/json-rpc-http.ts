import type { ServerResponse } from 'node:http';

/** A JSON-RPC error answered at the HTTP layer, before any MCP server sees the request. */
export function sendJsonRpcError(res: ServerResponse, status: number, code: number, message: string, id: unknown = null, data?: unknown): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code, message, ...(data === undefined ? {} : { data }) }, id }));
}

/** The answer to a body that is not JSON, alike from Express's parser and the session POST lane. */
export function sendParseError(res: ServerResponse, reason: string): void {
  sendJsonRpcError(res, 400, -32700, `Parse error: the request body is not valid JSON (${reason})`);
}
