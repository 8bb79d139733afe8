import type { ServerResponse } from 'node:http';

/** A JSON-RPC error answered at the HTTP layer, before any MCP server sees the request. */
export function sendJsonRpcError(res: ServerResponse, status: number, code: number, message: string, id: unknown = null, data?: unknown): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code, message, ...(data === undefined ? {} : { data }) }, id }));
}
