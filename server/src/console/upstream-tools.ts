/**
 * Each upstream's tool catalog for the console's policy page, read with `tools/list` (all pages) over a link the
 * gateway keeps for this purpose. An upstream that is down is reported with its error, not left out.
 */

/** What the console shows of one upstream. */
export interface UpstreamCatalog {
  server: string;
  tools: { name: string; description?: string }[];
  /** Why the tools could not be listed; `tools` is then empty. */
  error?: string;
}

/** The part of an UpstreamLink this needs. */
export interface CatalogSource {
  readonly name: string;
  request(method: string, params: Record<string, unknown> | undefined): Promise<unknown>;
}

/** A ceiling against an upstream whose cursors never end. */
const MAX_PAGES = 50;

export async function readCatalog(link: CatalogSource): Promise<UpstreamCatalog> {
  const tools: UpstreamCatalog['tools'] = [];
  try {
    let cursor: string | undefined;
    for (let page = 0; page < MAX_PAGES; page += 1) {
      const result = (await link.request('tools/list', cursor === undefined ? undefined : { cursor })) as {
        tools?: { name?: unknown; description?: unknown }[];
        nextCursor?: unknown;
      };
      for (const tool of result.tools ?? []) {
        if (typeof tool.name !== 'string') continue;
        tools.push({ name: tool.name, ...(typeof tool.description === 'string' ? { description: tool.description } : {}) });
      }
      if (typeof result.nextCursor !== 'string' || result.nextCursor === '') break;
      cursor = result.nextCursor;
    }
    return { server: link.name, tools };
  } catch (error) {
    return { server: link.name, tools: [], error: error instanceof Error ? error.message : String(error) };
  }
}
