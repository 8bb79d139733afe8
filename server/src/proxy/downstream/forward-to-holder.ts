/**
 * Passes a 2026 request that continues a call held by another gateway instance (its requestState says which, see
 * held-state.ts) to that instance, and streams the answer back as it comes: JSON, or SSE carrying the call's
 * progress. The holder serves it as if the client had come back to it, and checks everything again: the grant's
 * key, Host and Origin, the MCP headers and the requestState. A client that goes away closes the forwarded request,
 * which the holder takes as it takes any client going away.
 */
import { type IncomingHttpHeaders, type IncomingMessage, request as httpRequest, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { pipeline } from 'node:stream';

import type { Logger } from '../../log/logger.js';
import { sendJsonRpcError } from './json-rpc-http.js';

/** Marks a forwarded request, so that an instance never passes one on again (two instances cannot loop it). */
export const FORWARDED_HEADER = 'x-airlock-forwarded';

/** Headers of one connection, which neither the forwarded request nor the answer passed back inherits. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'expect']);
/** The body goes on as the JSON it was parsed from, so the headers that described its bytes as they arrived stay behind. */
const ARRIVED_BODY = new Set(['content-length', 'content-encoding']);

export function forwardToHolder(req: IncomingMessage, res: ServerResponse, body: unknown, holder: string, logger: Logger): Promise<void> {
  const target = new URL(req.url ?? '/', holder);
  const payload = Buffer.from(JSON.stringify(body), 'utf8');
  const headers: IncomingHttpHeaders = { [FORWARDED_HEADER]: '1', 'content-length': String(payload.length) };
  for (const [name, value] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(name) && !ARRIVED_BODY.has(name) && value !== undefined) headers[name] = value;
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    const forwarded = send(target, { method: req.method, headers });
    forwarded.on('response', (answer) => {
      const passed: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(answer.headers)) if (!HOP_BY_HOP.has(name) && value !== undefined) passed[name] = value;
      res.writeHead(answer.statusCode ?? 502, passed);
      // Headers at once, then each event of a stream the moment the holder sends it; either side failing ends both.
      res.flushHeaders();
      pipeline(answer, res, () => resolve());
    });
    forwarded.on('error', (error) => {
      logger.warn({ err: error.message, holder }, 'the instance holding a call could not be reached');
      if (res.headersSent) res.destroy();
      else {
        const id = (body as { id?: unknown } | null)?.id ?? null;
        sendJsonRpcError(res, 502, -32603, `The gateway instance holding the call this request continues could not be reached (${error.message}); call again without requestState`, id);
      }
      resolve();
    });
    res.on('close', () => {
      if (!res.writableFinished) forwarded.destroy();
    });
    forwarded.end(payload);
  });
}
