import { ProtocolError, ProtocolErrorCode } from '../proxy/sdk.js';
import type { Stage } from './tool-call.js';

/** A tool on an upstream this view does not serve is answered exactly like a tool that does not exist. */
export const routeStage: Stage = {
  name: 'route',
  async run(call, context) {
    if (context.links.has(call.server)) return { kind: 'continue' };
    return { kind: 'error', error: new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown tool: ${call.exposedName}`) };
  },
};
