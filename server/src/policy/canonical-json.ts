/**
 * A policy's identity: SHA-256 over its canonical JSON (keys sorted, no whitespace), so reformatting the file
 * keeps the version an approval is bound to, and any change of meaning changes it.
 */
import { createHash } from 'node:crypto';

export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const record = value as Record<string, unknown>;
    const entries = Object.keys(record)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value);
}

export function policyVersion(document: unknown): string {
  return createHash('sha256').update(canonicalJson(document)).digest('hex');
}
