import { describe, expect, it } from 'vitest';

import { canonicalJson, sha256Hex, type JsonObject, type JsonValue } from '../util/canonical-json.js';
import { isSecretKey, looksLikeSecretValue, REDACTED, redactArgs } from './redact.js';

const hashed = (value: JsonValue) => `sha256:${sha256Hex(canonicalJson(value))}`;

describe('isSecretKey', () => {
  it.each([
    'password', 'Password', 'PASSWORD', 'db_password', 'passwd', 'pwd', 'passphrase',
    'token', 'access_token', 'refreshToken', 'id-token', 'secret', 'client_secret', 'AWS_SECRET_ACCESS_KEY',
    'api_key', 'apiKey', 'API-KEY', 'x-api-key', 'authorization', 'Authorization', 'proxy-authorization', 'auth',
    'cookie', 'Set-Cookie', 'private_key', 'privateKey', 'credentials', 'access_key_id', 'signing_key', 'session_id',
    'pin', 'otp', 'cvv', 'card_number', 'max_tokens',
  ])('%s is a secret', (key) => {
    expect(isSecretKey(key)).toBe(true);
  });

  it.each(['amount', 'customer', 'author', 'key', 'path', 'description', 'repository', 'currency', 'spinner', 'options'])(
    '%s is not',
    (key) => {
      expect(isSecretKey(key)).toBe(false);
    },
  );
});

describe('looksLikeSecretValue', () => {
  it.each([
    'Bearer abc.def',
    'basic dXNlcjpwYXNz',
    '-----BEGIN RSA PRIVATE KEY-----\nMIIE...',
    '-----BEGIN PRIVATE KEY-----',
    'xoxb-1234-5678-abcdefgh',
    'ghp_0123456789abcdefghijABCDEFGHIJ',
    'github_pat_0123456789abcdefghij_xyz',
    'sk_live_0123456789abcd',
    'sk-ant-api03-0123456789abcdefghijkl',
    'AKIAIOSFODNN7EXAMPLE',
    'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig',
    'curl -H "Authorization: Bearer x" https://api -d token=ghp_0123456789abcdefghijABCDEFGHIJ',
  ])('%s', (value) => {
    expect(looksLikeSecretValue(value)).toBe(true);
  });

  it.each(['hello', 'bearer', 'sk-short', 'The basic idea', 'AKIA', 'eyJ only'])('%s does not', (value) => {
    expect(looksLikeSecretValue(value)).toBe(false);
  });
});

describe('redactArgs', () => {
  const args: JsonObject = {
    amount: 1500,
    currency: 'usd',
    customer: { id: 'cus_1', email: 'a@example.com', password: 'hunter2', nested: { api_key: 'k', keep: true } },
    tags: ['a', { token: 't' }],
    note: null,
    Authorization: 'Bearer xyz',
    header: 'Bearer abc',
  };

  it.each<[string, boolean, JsonObject]>([
    [
      'by default: keys kept, values hashed, secrets redacted at any depth',
      false,
      {
        amount: hashed(1500),
        currency: hashed('usd'),
        customer: {
          id: hashed('cus_1'),
          email: hashed('a@example.com'),
          password: REDACTED,
          nested: { api_key: REDACTED, keep: hashed(true) },
        },
        tags: [hashed('a'), { token: REDACTED }],
        note: hashed(null),
        Authorization: REDACTED,
        header: REDACTED,
      },
    ],
    [
      'keepValues: values kept, secrets still redacted',
      true,
      {
        amount: 1500,
        currency: 'usd',
        customer: { id: 'cus_1', email: 'a@example.com', password: REDACTED, nested: { api_key: REDACTED, keep: true } },
        tags: ['a', { token: REDACTED }],
        note: null,
        Authorization: REDACTED,
        header: REDACTED,
      },
    ],
  ])('%s', (_name, keepValues, expected) => {
    expect(redactArgs(args, { keepValues })).toEqual(expected);
  });

  it('redacts a whole subtree under a secret key, never hashing it', () => {
    const out = redactArgs({ credentials: { user: 'u', pass: 'p' } });
    expect(out).toEqual({ credentials: REDACTED });
    expect(JSON.stringify(out)).not.toContain(sha256Hex(canonicalJson('p')));
  });

  it('hashes equal values equally, so calls can be compared without their values', () => {
    expect(redactArgs({ a: { x: 1, y: 2 } })).toEqual(redactArgs({ a: { y: 2, x: 1 } }));
    expect(redactArgs({ a: 1 })).not.toEqual(redactArgs({ a: 2 }));
  });

  it('does not change its input', () => {
    const input = { password: 'p', a: 1 };
    redactArgs(input);
    expect(input).toEqual({ password: 'p', a: 1 });
  });
});
