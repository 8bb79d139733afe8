import type { Caller } from '../../pipeline/tool-call.js';
import type { Router } from '../router.js';
import { type JSONRPCRequest, Server, type ServerCapabilities, type ServerContext } from '../sdk.js';

export const GATEWAY_INFO = { name: 'airlock', version: '0.1.0' } as const;

/**
 * One downstream `Server` (per session, or per request on the 2026 era). Every method goes through the raw
 * fallback handler: the typed handlers validate and strip fields (mcp-protocol.md §2.3), which a gateway must not.
 */
export function buildDownstreamServer(
  router: Router,
  options: { capabilities: ServerCapabilities; instructions?: string; caller: (ctx: ServerContext) => Caller },
): Server {
  const server = new Server(GATEWAY_INFO, { capabilities: options.capabilities, instructions: options.instructions });
  server.fallbackRequestHandler = (request, ctx) => router.handle(request, ctx, options.caller(ctx));
  server.fallbackNotificationHandler = (notification) => router.notify(notification);
  if (options.capabilities.logging) {
    // The Server installs its own logging/setLevel that only stores the level locally; upstreams must hear it.
    server.setRequestHandler('logging/setLevel', (request, ctx) =>
      router.handle({ jsonrpc: '2.0', id: ctx.mcpReq.id, ...request } as JSONRPCRequest, ctx, options.caller(ctx)),
    );
  }
  return server;
}
