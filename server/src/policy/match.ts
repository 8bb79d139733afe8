/**
 * Tool names against policy keys and hide entries. A call names its tool twice: bare (`create_issue`, the
 * upstream's own name, as PolicyLayer policies use it) and qualified (`github__create_issue`). Globs use `*` for
 * any run of characters and no other metacharacters, so matching is a few string comparisons, not a regex.
 */

export type NameMatcher = (name: string) => boolean;

export function isGlob(pattern: string): boolean {
  return pattern.includes('*');
}

export function compileGlob(pattern: string): NameMatcher {
  const parts = pattern.split('*');
  const head = parts[0] ?? '';
  const tail = parts.at(-1) ?? '';
  const middle = parts.slice(1, -1).filter((part) => part !== '');
  const minLength = head.length + tail.length;
  return (name) => {
    if (name.length < minLength || !name.startsWith(head) || !name.endsWith(tail)) return false;
    // Leftmost placement of each middle part is optimal for `*`-only globs, so one pass decides.
    let from = head.length;
    const end = name.length - tail.length;
    for (const part of middle) {
      const at = name.indexOf(part, from);
      if (at < 0 || at + part.length > end) return false;
      from = at + part.length;
    }
    return true;
  };
}

/** Globs rank by literal characters (longest first), then fewer stars, then order in the file. */
export function globRank(pattern: string): number {
  const stars = pattern.split('*').length - 1;
  return (pattern.length - stars) * 1_000 - stars;
}

/**
 * The names a call is known by, most specific first. An empty server means "unknown server" (for example
 * `policy check` with a bare name), and then only the bare name exists.
 */
export function callNames(server: string, tool: string): readonly string[] {
  return server === '' ? [tool] : [`${server}__${tool}`, tool];
}
