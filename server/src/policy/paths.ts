/**
 * The two ways Airlock names a place in a policy: JSON Pointers (RFC 6901) for decisions and the audit log
 * (`/tools/create_charge/deny_if/0`), and dotted paths for people reading validation problems
 * (`tools.create_charge.deny_if[0].op`).
 */

export type Segment = string | number;

export function toPointer(segments: readonly Segment[]): string {
  return segments.map((s) => '/' + String(s).replaceAll('~', '~0').replaceAll('/', '~1')).join('');
}

const PLAIN_KEY = /^[A-Za-z0-9_$*@:-]+$/;

export function toDottedPath(segments: readonly Segment[]): string {
  let out = '';
  for (const segment of segments) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (PLAIN_KEY.test(segment)) out += (out === '' ? '' : '.') + segment;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}
