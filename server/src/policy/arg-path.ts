/**
 * Argument paths in conditions and `increment_from`: `args.a.b[0]` or `args.a.b.0`, always rooted at `args`.
 * Parsed once at load; resolved per call against the call's arguments, own properties only, so a path such as
 * `args.constructor` can never reach into JavaScript's prototype chain.
 */

export type ArgPath = readonly string[];
export type ArgPathResult = { ok: true; path: ArgPath } | { ok: false; message: string };

const SEGMENT = /^[^.[\]]+$/;
const INDEX = /^(0|[1-9][0-9]*)$/;

export function parseArgPath(text: string): ArgPathResult {
  if (text.startsWith('state.')) {
    return { ok: false, message: 'must start with "args." (counters are declared with "limits", not read through "state." paths)' };
  }
  if (!text.startsWith('args.') && !text.startsWith('args[')) {
    return { ok: false, message: `must start with "args." (got "${text}")` };
  }
  const segments: string[] = [];
  // Brackets are sugar for a dot: `b[0]` and `b.0` are the same path.
  const dotted = text.slice('args'.length).replace(/\[([^\]]*)\]/g, '.$1');
  for (const segment of dotted.slice(1).split('.')) {
    if (!SEGMENT.test(segment)) {
      return { ok: false, message: `is not a valid argument path (got "${text}"); write it like "args.items[0].name"` };
    }
    segments.push(segment);
  }
  return { ok: true, path: segments };
}

/** The value at `path` in `args`, or undefined when any step is missing. */
export function resolveArgPath(args: unknown, path: ArgPath): unknown {
  let current: unknown = args;
  for (const segment of path) {
    if (Array.isArray(current)) {
      current = INDEX.test(segment) ? current[Number(segment)] : undefined;
    } else if (typeof current === 'object' && current !== null && Object.hasOwn(current, segment)) {
      current = (current as Record<string, unknown>)[segment];
    } else {
      return undefined;
    }
  }
  return current;
}
