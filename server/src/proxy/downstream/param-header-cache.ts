/**
 * The SEP-2243 header rules of every upstream tool the gateway has seen in a tools/list answer. Rules are worked
 * out once per listing, so a call pays one map lookup, and nothing more when its tool declares no x-mcp-header.
 * Keyed by upstream and the upstream's own tool name, like the annotations cache: every endpoint and era shares it.
 */
import type { Clock } from '../../util/clock.js';
import { type ParamHeaderRule, paramHeaderRules } from './param-headers.js';

/** How soon a server may be listed again for the sake of a call naming a tool not seen yet. */
export const RELIST_INTERVAL_MS = 30_000;

export class ParamHeaderCache {
  readonly #clock: Clock;
  readonly #byServer = new Map<string, Map<string, readonly ParamHeaderRule[]>>();
  /** When each server was last listed, or last listed on a call's behalf whether that worked or not. */
  readonly #listedAt = new Map<string, number>();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Learns from one page of a server's tools/list; the latest listing of a tool wins. */
  record(server: string, tools: readonly { name?: unknown; inputSchema?: unknown }[]): void {
    let known = this.#byServer.get(server);
    if (!known) this.#byServer.set(server, (known = new Map()));
    for (const tool of tools) {
      if (typeof tool.name === 'string') known.set(tool.name, paramHeaderRules(tool.inputSchema));
    }
    this.#listedAt.set(server, this.#clock.now());
  }

  /** The tool's rules (often none); undefined when no listing of it has been seen. */
  get(server: string, tool: string): readonly ParamHeaderRule[] | undefined {
    return this.#byServer.get(server)?.get(tool);
  }

  /**
   * Whether a call naming a tool this cache has not seen should list the server first (a client that listed
   * through another instance, or before a restart). Yes at most once per interval and server, so calls naming
   * tools that do not exist cannot make the gateway list an upstream on every call.
   */
  claimListing(server: string): boolean {
    const now = this.#clock.now();
    if (now - (this.#listedAt.get(server) ?? -Infinity) < RELIST_INTERVAL_MS) return false;
    this.#listedAt.set(server, now);
    return true;
  }
}
