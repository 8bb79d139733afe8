/**
 * `/mcp`: every configured upstream behind one endpoint. Tools and prompts are exposed as `server__name`;
 * resource URIs stay as the upstreams wrote them and are routed by learned ownership. Lists are fetched whole
 * from each upstream (all pages) and merged; an upstream that is down contributes nothing and is logged, so
 * one dead server never hides the others.
 */
import type { Logger } from '../log/logger.js';
import { exposeName, parseExposedName } from '../route/exposed-names.js';
import { ResourceMap } from '../route/resource-map.js';
import { paramsOf, type Router } from './router.js';
import { ProtocolError, ProtocolErrorCode, type Result, type ServerContext } from './sdk.js';
import { callTool, learnTools, type ToolCallDeps } from './tool-calls.js';
import type { UpstreamLink } from './upstream/upstream-link.js';

type Item = Record<string, unknown>;

export function createAggregateRouter(links: ReadonlyMap<string, UpstreamLink>, deps: ToolCallDeps, logger: Logger): Router {
  const servers = new Set(links.keys());
  const resources = new ResourceMap();

  /** Lists from every upstream that has the capability; a failing upstream is skipped, not fatal. */
  async function gather(method: string, key: string, capability: string, ctx: ServerContext): Promise<{ server: string; items: Item[] }[]> {
    const results = await Promise.all(
      [...links.values()].map(async (link) => {
        try {
          await link.connect();
          if (!link.serverCapabilities?.[capability as keyof typeof link.serverCapabilities]) return { server: link.name, items: [] };
          return { server: link.name, items: await link.listAll(method, key, { ctx }) };
        } catch (error) {
          logger.warn({ upstream: link.name, method, err: (error as Error).message }, 'upstream left out of the merged list');
          return { server: link.name, items: [] };
        }
      }),
    );
    return results;
  }

  function linkFor(server: string | undefined, what: string): UpstreamLink {
    const link = server === undefined ? undefined : links.get(server);
    if (!link) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown ${what}`);
    return link;
  }

  async function resourceOwner(uri: string, ctx: ServerContext): Promise<UpstreamLink> {
    let owner = resources.owner(uri);
    if (owner === undefined) {
      // A URI we have not seen in a list yet (a link from a tool result, a client with a cached list): learn again.
      await learnResources(ctx);
      owner = resources.owner(uri);
    }
    return linkFor(owner, `resource: ${uri}`);
  }

  async function learnResources(ctx: ServerContext): Promise<{ resources: Item[]; templates: Item[] }> {
    const [listed, templated] = await Promise.all([
      gather('resources/list', 'resources', 'resources', ctx),
      gather('resources/templates/list', 'resourceTemplates', 'resources', ctx),
    ]);
    for (const { server, items } of listed) for (const item of items) resources.addResource(String(item.uri), server);
    for (const { server, items } of templated) for (const item of items) resources.addTemplate(String(item.uriTemplate), server);
    return { resources: listed.flatMap((l) => l.items), templates: templated.flatMap((l) => l.items) };
  }

  return {
    async handle(request, ctx, caller) {
      const params = paramsOf(request);
      switch (request.method) {
        case 'tools/list': {
          const lists = await gather('tools/list', 'tools', 'tools', ctx);
          for (const { server, items } of lists) learnTools(deps, server, items);
          return {
            tools: lists.flatMap(({ server, items }) =>
              items
                .filter((tool) => deps.isVisible(server, String(tool.name)))
                .map((tool) => ({ ...tool, name: exposeName(server, String(tool.name)) })),
            ),
          };
        }
        case 'tools/call': {
          const exposedName = String(params.name);
          const target = parseExposedName(exposedName, servers);
          if (!target) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown tool: ${exposedName}`);
          return callTool(deps, links, { server: target.server, tool: target.name, exposedName }, params, caller, ctx);
        }
        case 'prompts/list': {
          const lists = await gather('prompts/list', 'prompts', 'prompts', ctx);
          return { prompts: lists.flatMap(({ server, items }) => items.map((p) => ({ ...p, name: exposeName(server, String(p.name)) }))) };
        }
        case 'prompts/get': {
          const target = parseExposedName(String(params.name), servers);
          if (!target) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown prompt: ${String(params.name)}`);
          return linkFor(target.server, 'prompt').request('prompts/get', { ...params, name: target.name }, { ctx });
        }
        case 'resources/list':
          return { resources: (await learnResources(ctx)).resources };
        case 'resources/templates/list':
          return { resourceTemplates: (await learnResources(ctx)).templates };
        case 'resources/read':
        case 'resources/subscribe':
        case 'resources/unsubscribe':
          return (await resourceOwner(String(params.uri), ctx)).request(request.method, request.params, { ctx });
        case 'completion/complete':
          return complete(params, ctx);
        case 'logging/setLevel':
          await Promise.all(
            [...links.values()]
              .filter((link) => link.serverCapabilities?.logging)
              .map((link) => link.request('logging/setLevel', request.params, { ctx }).catch(() => undefined)),
          );
          return {};
        default:
          throw new ProtocolError(ProtocolErrorCode.MethodNotFound, `Method not found: ${request.method}`);
      }
    },
    async notify(notification) {
      await Promise.all([...links.values()].map((link) => link.notify(notification).catch(() => undefined)));
    },
  };

  async function complete(params: Record<string, unknown>, ctx: ServerContext): Promise<Result> {
    const ref = (params.ref ?? {}) as { type?: string; name?: string; uri?: string };
    if (ref.type === 'ref/prompt') {
      const target = parseExposedName(String(ref.name), servers);
      if (!target) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown prompt: ${String(ref.name)}`);
      return linkFor(target.server, 'prompt').request('completion/complete', { ...params, ref: { ...ref, name: target.name } }, { ctx });
    }
    let owner = resources.ownerOfTemplate(String(ref.uri));
    if (owner === undefined) {
      await learnResources(ctx);
      owner = resources.ownerOfTemplate(String(ref.uri));
    }
    return linkFor(owner, `resource: ${String(ref.uri)}`).request('completion/complete', params, { ctx });
  }
}
