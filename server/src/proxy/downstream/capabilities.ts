import type { ClientCapabilities, ServerCapabilities } from '../sdk.js';

/**
 * What the aggregated endpoint advertises: the union of its upstreams. tools.listChanged is always on so the
 * gateway can tell clients when an upstream comes back or the policy changes what is visible.
 */
export function mergeCapabilities(upstreams: readonly (ServerCapabilities | undefined)[]): ServerCapabilities {
  const merged: ServerCapabilities = { tools: { listChanged: true } };
  for (const caps of upstreams) {
    if (!caps) continue;
    if (caps.resources) {
      merged.resources = {
        ...(caps.resources.subscribe || merged.resources?.subscribe ? { subscribe: true } : {}),
        ...(caps.resources.listChanged || merged.resources?.listChanged ? { listChanged: true } : {}),
      };
    }
    if (caps.prompts) merged.prompts = { ...(caps.prompts.listChanged || merged.prompts?.listChanged ? { listChanged: true } : {}) };
    if (caps.completions) merged.completions = {};
    if (caps.logging) merged.logging = {};
  }
  return merged;
}

/** `/mcp/<server>` mirrors its upstream, minus the 2025 tasks runtime the gateway does not relay. */
export function singleCapabilities(caps: ServerCapabilities | undefined): ServerCapabilities {
  if (!caps) return { tools: { listChanged: true } };
  const { tasks: _tasks, ...rest } = caps as ServerCapabilities & { tasks?: unknown };
  return rest;
}

/**
 * What the gateway declares to upstreams on behalf of a downstream client: only what that client can really
 * answer, or upstream servers would send requests nobody can satisfy.
 */
export function relayableClientCapabilities(downstream: ClientCapabilities | undefined): ClientCapabilities {
  const caps: ClientCapabilities = {};
  if (downstream?.sampling) caps.sampling = downstream.sampling;
  if (downstream?.elicitation) caps.elicitation = downstream.elicitation;
  if (downstream?.roots) caps.roots = downstream.roots;
  return caps;
}
