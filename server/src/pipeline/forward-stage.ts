import type { Stage } from './tool-call.js';

/** The terminal stage: the call goes upstream with its original arguments and the upstream's result comes back as is. */
export const forwardStage: Stage = {
  name: 'forward',
  async run(call, context) {
    const link = context.links.get(call.server);
    if (!link) throw new Error(`route stage let through unknown server "${call.server}"`);
    const result = await link.request('tools/call', call.params, { ctx: context.mcp });
    return { kind: 'respond', outcome: result.isError === true ? 'upstream_error' : 'executed', result };
  },
};
