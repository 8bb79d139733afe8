/**
 * Which upstream owns a resource URI on the aggregated endpoint. URIs are kept as the upstream wrote them —
 * rewriting them would break embedded resources and resource links in tool results — so ownership is learned
 * from the upstreams' own lists and templates.
 */
export class ResourceMap {
  readonly #uris = new Map<string, string>();
  readonly #templates: { prefix: string; server: string }[] = [];

  addResource(uri: string, server: string): void {
    if (!this.#uris.has(uri)) this.#uris.set(uri, server);
  }

  addTemplate(uriTemplate: string, server: string): void {
    const brace = uriTemplate.indexOf('{');
    const prefix = brace === -1 ? uriTemplate : uriTemplate.slice(0, brace);
    if (!this.#templates.some((t) => t.prefix === prefix && t.server === server)) this.#templates.push({ prefix, server });
  }

  /** The exact URI first, then the template with the longest literal prefix. */
  owner(uri: string): string | undefined {
    const exact = this.#uris.get(uri);
    if (exact !== undefined) return exact;
    let best: { prefix: string; server: string } | undefined;
    for (const template of this.#templates) {
      if (uri.startsWith(template.prefix) && (!best || template.prefix.length > best.prefix.length)) best = template;
    }
    return best?.server;
  }

  ownerOfTemplate(uriTemplate: string): string | undefined {
    const brace = uriTemplate.indexOf('{');
    const prefix = brace === -1 ? uriTemplate : uriTemplate.slice(0, brace);
    return this.#templates.find((t) => t.prefix === prefix)?.server ?? this.owner(uriTemplate);
  }
}
