import type { Stage } from './tool-call.js';

/**
 * The terminal stage: the call goes upstream with its original arguments and the upstream's result comes back as
 * is. When the upstream fails (no result at all), the quota the call took is given back; when the agent cancelled
 * or left, it is kept: the call went upstream and may have run, and a refund would let cancel-and-repeat walk past
 * any limit or spend cap.
 */
export function forwardStage(refund?: (reservation: string) => Promise<void>): Stage {
  return {
    name: 'forward',
    async run(call, context) {
      const link = context.links.get(call.server);
      if (!link) throw new Error(`route stage let through unknown server "${call.server}"`);
      context.forwardStartedAt = performance.now();
      try {
        const result = await link.request('tools/call', call.params, { ctx: context.mcp });
        return { kind: 'respond', outcome: result.isError === true ? 'upstream_error' : 'executed', result };
      } catch (error) {
        if (refund && context.reservation !== undefined && !context.mcp.mcpReq.signal.aborted) await refund(context.reservation).catch(() => undefined);
        throw error;
      }
    },
  };
}
