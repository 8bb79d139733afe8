/**
 * Finds the SEP-2243 header rules a 2026 tools/call must satisfy from the name the client called. On `/mcp` that
 * is the exposed `server__tool`, which is also what the client's Mcp-Name header carries (it mirrors the body);
 * on `/mcp/<server>` it is the upstream's own name. Either way the rules are the upstream's, since the gateway
 * lists tools with their inputSchema unchanged.
 */
import type { Logger } from '../log/logger.js';
import { parseExposedName } from '../route/exposed-names.js';
import type { ParamHeaderRule } from './downstream/param-headers.js';
import { learnTools, type ToolCallDeps } from './tool-calls.js';
import type { UpstreamLink } from './upstream/upstream-link.js';

/** The rules of the tool a call names; undefined when it has none to check (or is unknown or hidden). */
export type ParamHeaderLookup = (toolName: string) => Promise<readonly ParamHeaderRule[] | undefined>;

export function paramHeaderLookup(
  links: ReadonlyMap<string, UpstreamLink>,
  deps: ToolCallDeps,
  options: { aggregated: boolean; logger: Logger },
): ParamHeaderLookup {
  const cache = deps.paramHeaders;
  const servers = new Set(links.keys());
  const only = options.aggregated ? undefined : [...servers][0];
  const listing = new Map<string, Promise<void>>();

  /** One listing per server at a time: calls arriving meanwhile wait for it instead of going through unchecked. */
  function list(link: UpstreamLink): Promise<void> {
    let pending = listing.get(link.name);
    if (!pending) {
      pending = link
        .listAll('tools/list', 'tools')
        .then(
          (tools) => learnTools(deps, link.name, tools),
          (error: Error) => options.logger.warn({ upstream: link.name, err: error.message }, 'could not list tools; Mcp-Param headers go unchecked'),
        )
        .finally(() => listing.delete(link.name));
      listing.set(link.name, pending);
    }
    return pending;
  }

  return async (toolName) => {
    const target = only === undefined ? parseExposedName(toolName, servers) : { server: only, name: toolName };
    const link = target && links.get(target.server);
    if (!cache || !target || !link) return undefined;
    let rules = cache.get(target.server, target.name);
    if (rules === undefined && (listing.has(link.name) || cache.claimListing(link.name))) {
      await list(link);
      rules = cache.get(target.server, target.name);
    }
    // A hidden tool does not exist for the client: the pipeline answers it as unknown, not its header rules.
    return rules !== undefined && rules.length > 0 && deps.isVisible(target.server, target.name) ? rules : undefined;
  };
}
