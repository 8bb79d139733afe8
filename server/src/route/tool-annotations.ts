/**
 * The tool annotations (readOnlyHint, destructiveHint, …) upstreams declared in the tools/list answers agents
 * received, so an approver sees what kind of call is held. Annotations are the upstream's claims, shown as hints
 * and never used to decide (mcp-protocol.md §1.2: untrusted unless the server is).
 */
export interface ToolAnnotations {
  title?: string;
  readOnlyHint?: boolean;
  destructiveHint?: boolean;
  idempotentHint?: boolean;
  openWorldHint?: boolean;
}

export class ToolAnnotationsCache {
  readonly #byServer = new Map<string, Map<string, ToolAnnotations>>();

  /** Learns from one page of a server's tools/list; the latest listing of a tool wins. */
  record(server: string, tools: readonly { name?: unknown; annotations?: unknown }[]): void {
    let known = this.#byServer.get(server);
    if (!known) this.#byServer.set(server, (known = new Map()));
    for (const tool of tools) {
      if (typeof tool.name !== 'string') continue;
      if (tool.annotations !== null && typeof tool.annotations === 'object') known.set(tool.name, tool.annotations as ToolAnnotations);
      else known.delete(tool.name);
    }
  }

  get(server: string, tool: string): ToolAnnotations | undefined {
    return this.#byServer.get(server)?.get(tool);
  }
}
