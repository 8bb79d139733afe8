/**
 * The aggregated endpoint exposes `server__name` for tools and prompts. Server names cannot contain "__"
 * (config schema), so splitting at the first "__" and checking the prefix against the configured servers is an
 * exact map, not a guess: `a__b__c` is tool `b__c` on server `a`.
 */
export const SEPARATOR = '__';

export function exposeName(server: string, name: string): string {
  return `${server}${SEPARATOR}${name}`;
}

export function parseExposedName(exposed: string, servers: ReadonlySet<string>): { server: string; name: string } | undefined {
  const at = exposed.indexOf(SEPARATOR);
  if (at <= 0) return undefined;
  const server = exposed.slice(0, at);
  const name = exposed.slice(at + SEPARATOR.length);
  return servers.has(server) && name !== '' ? { server, name } : undefined;
}
