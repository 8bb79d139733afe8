/**
 * Canonical JSON and its SHA-256: equal values give equal text and equal hashes whatever their key order or
 * formatting. The audit chain hashes events with it, approvals bind to call arguments with it, and a policy's
 * version is its hash, so the bytes must never change for the same value.
 *
 * It follows RFC 8785 (JCS) for the values Airlock writes: object keys sorted by UTF-16 code units, no whitespace,
 * numbers in ECMAScript's shortest round-trip form, strings escaped as JSON.stringify does. Keys whose value is
 * `undefined` are left out, so optional fields need no special casing.
 */
import { createHash } from 'node:crypto';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue | undefined };
export type JsonObject = { [key: string]: JsonValue | undefined };

export function canonicalJson(value: JsonValue): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    // JSON has no NaN or Infinity; JSON.stringify would silently write null, which would hash a lie.
    if (!Number.isFinite(value)) throw new TypeError(`Cannot canonicalize the number ${value}`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && isPlainObject(value)) {
    // Built by concatenation: every audit event passes here twice, and per-member arrays were most of its garbage.
    let out = '';
    for (const key of Object.keys(value).sort()) {
      const member = value[key];
      if (member !== undefined) out += `${out === '' ? '' : ','}${JSON.stringify(key)}:${canonicalJson(member)}`;
    }
    return `{${out}}`;
  }
  throw new TypeError(`Cannot canonicalize a value of type ${describe(value)}`);
}

function isPlainObject(value: object): boolean {
  const prototype = Object.getPrototypeOf(value) as unknown;
  return prototype === Object.prototype || prototype === null;
}

function describe(value: unknown): string {
  if (typeof value !== 'object' || value === null) return typeof value;
  return (value as object).constructor?.name ?? 'object';
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** SHA-256 of a value's canonical JSON: equal values hash equally whatever their key order. */
export function hashJson(value: JsonValue): string {
  return sha256Hex(canonicalJson(value));
}
