/**
 * SEP-2243 custom headers (2026-07-28 Streamable HTTP, "Custom Headers from Tool Parameters"). A tool's
 * inputSchema may mark a primitive argument with `x-mcp-header: Region`; clients then mirror that argument into
 * an `Mcp-Param-Region` header so that load balancers and other intermediaries can act on it without reading the
 * body. Any server that reads the body must hold the two against each other and refuse a disagreement with
 * HTTP 400 and JSON-RPC -32020 (HeaderMismatch): otherwise whatever routed or limited on the header and the
 * gateway, which decides and forwards on the body, would be acting on different values.
 *
 * Pure functions only: `paramHeaderRules` reads a schema once, when its tool is listed; `checkParamHeaders`
 * holds one call against those rules. The standard headers (Mcp-Method, Mcp-Name) are the SDK's to check.
 */

/** The spec's HeaderMismatch code; the SDK's ProtocolErrorCode has no member for it. */
export const HEADER_MISMATCH = -32020;

export interface ParamHeaderRule {
  /** The header as the spec spells it, for messages: `Mcp-Param-Region`. */
  readonly header: string;
  /** Node hands header names over lower-cased, and header names compare case-insensitively anyway. */
  readonly key: string;
  /** Property names from the arguments root to the annotated argument. */
  readonly path: readonly string[];
  /** Integers compare as numbers, so `42.0` in the header matches `42` in the body (the spec's SHOULD). */
  readonly numeric: boolean;
}

/** Why a call was refused, naming the header so the client can tell which argument to look at. */
export interface ParamHeaderProblem {
  readonly header: string;
  readonly message: string;
}

/** RFC 9110 `token`: what a header name may consist of. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** A field value carries visible ASCII, space and tab; anything else is sent Base64-encoded. */
const NOT_FIELD_TEXT = /[^\t\x20-\x7e]/;
const BASE64_PREFIX = '=?base64?';
const BASE64_SUFFIX = '?=';
/** Canonical RFC 4648 Base64 with its padding: the spec's test table rejects a payload missing its `=`. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** Plain decimals only, so `Number()` never accepts `0x2a`, `1e3` or an empty string as a number. */
const DECIMAL = /^-?\d+(?:\.\d+)?$/;
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The header rules a tool's inputSchema declares. Only annotations reached through a chain of `properties` count:
 * the spec makes one anywhere else (under items, anyOf, $ref …) invalid, and clients drop such a tool from their
 * list, so no conforming client calls it with that header. A name that is not a header token is dropped likewise.
 */
export function paramHeaderRules(inputSchema: unknown): readonly ParamHeaderRule[] {
  const rules: ParamHeaderRule[] = [];
  const visit = (schema: unknown, path: readonly string[]): void => {
    const properties = isRecord(schema) ? schema.properties : undefined;
    if (!isRecord(properties)) return;
    for (const [key, property] of Object.entries(properties)) {
      if (!isRecord(property)) continue;
      const at = [...path, key];
      const name = property['x-mcp-header'];
      if (typeof name === 'string' && TOKEN.test(name)) {
        rules.push({ header: `Mcp-Param-${name}`, key: `mcp-param-${name.toLowerCase()}`, path: at, numeric: property.type === 'integer' || property.type === 'number' });
      }
      visit(property, at);
    }
  };
  visit(inputSchema, []);
  return rules;
}

/**
 * Holds a call's `Mcp-Param-*` headers against its arguments. A header must be well-formed whenever it is sent; an
 * argument that has a value (not null, not absent) must have its header, and the decoded header must equal it.
 * An argument that is not a primitive is left to the tool's own argument validation.
 */
export function checkParamHeaders(
  rules: readonly ParamHeaderRule[],
  args: unknown,
  headers: Readonly<Record<string, string | string[] | undefined>>,
): ParamHeaderProblem | undefined {
  for (const rule of rules) {
    const sent = headers[rule.key];
    const raw = Array.isArray(sent) ? sent.join(', ') : sent;
    const decoded = raw === undefined ? undefined : decodeFieldValue(raw);
    if (typeof decoded === 'object') return { header: rule.header, message: `Header mismatch: the ${rule.header} header ${decoded.fault}` };
    const value = valueAt(args, rule.path);
    const text = primitiveText(value);
    if (text === undefined) continue;
    const argument = `arguments.${rule.path.join('.')}`;
    if (decoded === undefined) {
      return { header: rule.header, message: `Header mismatch: ${argument} is ${JSON.stringify(value)} but the ${rule.header} header that mirrors it is missing` };
    }
    const equal = rule.numeric && typeof value === 'number' && DECIMAL.test(decoded) ? Number(decoded) === value : decoded === text;
    if (!equal) {
      return { header: rule.header, message: `Header mismatch: the ${rule.header} header is ${JSON.stringify(decoded)} but ${argument} is ${JSON.stringify(value)}` };
    }
  }
  return undefined;
}

/** The value a header stands for: itself, or the UTF-8 text inside `=?base64?…?=`. */
function decodeFieldValue(raw: string): string | { fault: string } {
  if (NOT_FIELD_TEXT.test(raw)) return { fault: 'carries characters other than visible ASCII, space and tab (send such a value as =?base64?…?=)' };
  if (!(raw.length >= BASE64_PREFIX.length + BASE64_SUFFIX.length && raw.startsWith(BASE64_PREFIX) && raw.endsWith(BASE64_SUFFIX))) return raw;
  const payload = raw.slice(BASE64_PREFIX.length, -BASE64_SUFFIX.length);
  if (!BASE64.test(payload)) return { fault: `is not valid Base64 inside =?base64?…?= (${JSON.stringify(payload)})` };
  try {
    return UTF8.decode(Buffer.from(payload, 'base64'));
  } catch {
    return { fault: 'is Base64 of something that is not UTF-8 text' };
  }
}

/** The spec's string form of an argument: strings as they are, integers in decimal, booleans as true/false. */
function primitiveText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))) return String(value);
  return undefined;
}

function valueAt(root: unknown, path: readonly string[]): unknown {
  let node = root;
  for (const key of path) node = isRecord(node) && Object.hasOwn(node, key) ? node[key] : undefined;
  return node;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
