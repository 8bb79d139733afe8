import type { Caller } from '../pipeline/tool-call.js';
import type { JSONRPCRequest, Notification, Result, ServerContext } from './sdk.js';

/** Answers the downstream requests of one endpoint (`/mcp` aggregated, or `/mcp/<server>`). */
export interface Router {
  handle(request: JSONRPCRequest, ctx: ServerContext, caller: Caller): Promise<Result>;
  /** Notifications from the downstream client that upstreams need (roots/list_changed). */
  notify(notification: Notification): Promise<void>;
}

export function paramsOf(request: JSONRPCRequest): Record<string, unknown> {
  return (request.params ?? {}) as Record<string, unknown>;
}
