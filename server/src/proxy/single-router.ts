/**
 * `/mcp/<server>`: one upstream under its own names. Everything is forwarded as is; tools/list loses the hidden
 * tools and tools/call goes through the pipeline.
 */
import { callTool, filterToolPage, type ToolCallDeps } from './tool-calls.js';
import { paramsOf, type Router } from './router.js';
import { ProtocolError, ProtocolErrorCode } from './sdk.js';
import type { UpstreamLink } from './upstream/upstream-link.js';

export function createSingleRouter(link: UpstreamLink, deps: ToolCallDeps): Router {
  const links = new Map([[link.name, link]]);
  return {
    async handle(request, ctx, caller) {
      const params = paramsOf(request);
      switch (request.method) {
        case 'tools/list':
          return filterToolPage(await link.request('tools/list', request.params, { ctx }), link.name, deps);
        case 'tools/call': {
          const name = params.name;
          if (typeof name !== 'string') throw new ProtocolError(ProtocolErrorCode.InvalidParams, 'tools/call needs a "name" string');
          return callTool(deps, links, { server: link.name, tool: name, exposedName: name }, params, caller, ctx);
        }
        default:
          return link.request(request.method, request.params, { ctx });
      }
    },
    async notify(notification) {
      await link.notify(notification);
    },
  };
}
