import { describe, expect, it } from 'vitest';

import { canonicalJson, hashJson, sha256Hex, type JsonValue } from './canonical-json.js';

describe('canonicalJson', () => {
  it.each<[string, JsonValue, string]>([
    ['sorts keys, at every depth', { b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } }, '{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}'],
    ['writes no whitespace', { a: [1, 2], b: 'x y' }, '{"a":[1,2],"b":"x y"}'],
    ['sorts by UTF-16 code units, as RFC 8785 does', { é: 1, z: 2, Z: 3, '\u{1F600}': 4, '\uFFFF': 5 }, '{"Z":3,"z":2,"é":1,"😀":4,"\uFFFF":5}'],
    ['leaves out keys whose value is undefined', { a: 1, b: undefined }, '{"a":1}'],
    ['writes numbers in shortest round-trip form', [1.0, -0, 1e21, 1.5e-7, 0.1 + 0.2], '[1,0,1e+21,1.5e-7,0.30000000000000004]'],
    ['escapes strings as JSON does', ['"\\\n\u0001', 'ü'], '["\\"\\\\\\n\\u0001","ü"]'],
    ['keeps scalars', 'text', '"text"'],
  ])('%s', (_name, value, expected) => {
    expect(canonicalJson(value)).toBe(expected);
  });

  it.each<[string, unknown]>([
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['a Date', new Date(0)],
    ['a Map', new Map()],
    ['a bigint', 1n],
    ['a function', () => 1],
  ])('refuses %s rather than hashing something JSON cannot hold', (_name, value) => {
    expect(() => canonicalJson({ value } as unknown as JsonValue)).toThrow(TypeError);
  });
});

describe('hashJson', () => {
  it('ignores key order and whitespace of the input', () => {
    expect(hashJson({ b: [1, 2], a: 'x' })).toBe(hashJson(JSON.parse('{ "a": "x", "b": [1, 2] }') as JsonValue));
    expect(hashJson({ a: 1 })).toBe(sha256Hex('{"a":1}'));
  });
});
