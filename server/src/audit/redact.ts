/**
 * What of a tool call's arguments may be stored (audit rows, approval rows, the console). By default only the
 * shape: every key is kept and every value becomes `sha256:<hex>` of its canonical JSON, so two calls can be
 * compared without storing what they said. `keepValues` stores values for teams that need them.
 *
 * Secrets are never stored in either mode, not even hashed: a hash of a short password or PIN is reversed by
 * guessing. A value is a secret when its key looks like one (`password`, `api_key`, `Authorization`, … at any
 * depth, any case or separator) or the value itself looks like a credential (a bearer header, a PEM private
 * key, well-known token formats). Over-redacting is the safe side: `max_tokens` is redacted too.
 */
import { canonicalJson, sha256Hex, type JsonObject, type JsonValue } from '../util/canonical-json.js';

export const REDACTED = '[REDACTED]';

export interface RedactOptions {
  /** Store argument values (secrets excepted) instead of their hashes. */
  keepValues?: boolean;
}

// Matched against the key lowercased with separators removed, so api_key, apiKey, API-KEY and x-api-key all hit.
const SECRET_KEY_PARTS = [
  'password',
  'passwd',
  'passphrase',
  'secret',
  'token',
  'apikey',
  'authorization',
  'cookie',
  'privatekey',
  'credential',
  'accesskey',
  'signingkey',
  'sessionkey',
  'cardnumber',
] as const;
const SECRET_KEYS_EXACT = new Set(['auth', 'pwd', 'pin', 'otp', 'cvv', 'cvc', 'sessionid', 'signature']);

const SECRET_VALUE_PATTERNS: readonly RegExp[] = [
  /^\s*(bearer|basic)\s+\S+/i,
  /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
  /\bxox[abposr]-[A-Za-z0-9-]{8,}/, // Slack
  /\bgh[pousr]_[A-Za-z0-9]{20,}/, // GitHub
  /\bgithub_pat_[A-Za-z0-9_]{20,}/,
  /\b[rs]k_(live|test)_[A-Za-z0-9]{10,}/, // Stripe
  /\bsk-[A-Za-z0-9_-]{20,}/, // OpenAI, Anthropic
  /\bAKIA[0-9A-Z]{16}\b/, // AWS access key id
  /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+/, // JWT
];

export function isSecretKey(key: string): boolean {
  const normalized = key.toLowerCase().replace(/[^a-z0-9]/g, '');
  return SECRET_KEYS_EXACT.has(normalized) || SECRET_KEY_PARTS.some((part) => normalized.includes(part));
}

export function looksLikeSecretValue(value: string): boolean {
  return SECRET_VALUE_PATTERNS.some((pattern) => pattern.test(value));
}

export function redactArgs(args: JsonObject, options: RedactOptions = {}): JsonObject {
  return redactObject(args, options.keepValues === true);
}

function redactObject(object: JsonObject, keepValues: boolean): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(object)) {
    if (value === undefined) continue;
    out[key] = isSecretKey(key) ? REDACTED : redactValue(value, keepValues);
  }
  return out;
}

function redactValue(value: JsonValue, keepValues: boolean): JsonValue {
  if (Array.isArray(value)) return value.map((item) => redactValue(item, keepValues));
  if (value !== null && typeof value === 'object') return redactObject(value, keepValues);
  if (typeof value === 'string' && looksLikeSecretValue(value)) return REDACTED;
  return keepValues ? value : `sha256:${sha256Hex(canonicalJson(value))}`;
}
