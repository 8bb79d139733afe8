/**
 * The pure core of the tamper-evident audit log: the SHA-256 chain over canonical JSON (util/canonical-json.ts).
 * No I/O, so the writer, the verifier and any third-party checker of an export compute byte-for-byte the same
 * thing.
 *
 * Chain: `hash = sha256_hex(prev_hash_hex + canonical)` over UTF-8; the first row's prev_hash is GENESIS_HASH.
 */
import { sha256Hex } from '../util/canonical-json.js';

export const GENESIS_HASH = '0'.repeat(64);

export function chainHash(prevHash: string, canonical: string): string {
  return sha256Hex(prevHash + canonical);
}
