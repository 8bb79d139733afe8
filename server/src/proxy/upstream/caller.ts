import type { ServerContext } from '../sdk.js';

/**
 * Who sent a downstream request, as far as one upstream link can tell: its grant (API key) and its session. A modern
 * link serves every 2026 client, so two requests on it are one caller's only when both are.
 */
export function callerOf(ctx: ServerContext): string {
  return JSON.stringify([ctx.http?.authInfo?.clientId ?? '', ctx.sessionId ?? '']);
}
