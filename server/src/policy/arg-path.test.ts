import { describe, expect, it } from 'vitest';

import { parseArgPath, resolveArgPath } from './arg-path.js';

describe('parseArgPath', () => {
  it.each([
    ['args.amount', ['amount']],
    ['args.a.b[0]', ['a', 'b', '0']],
    ['args.a.b.0', ['a', 'b', '0']],
    ['args.items[2].sku', ['items', '2', 'sku']],
    ['args.weird-key:x', ['weird-key:x']],
  ])('%s', (text, path) => {
    expect(parseArgPath(text)).toEqual({ ok: true, path });
  });

  it.each(['amount', 'args', 'args.', 'args..a', 'args.a[]', 'args.a]', 'state.t.count', 'Args.a'])('refuses %s', (text) => {
    expect(parseArgPath(text).ok).toBe(false);
  });
});

describe('resolveArgPath', () => {
  const args = { a: { b: [10, { c: 'x' }] }, n: null };

  it('walks objects and arrays', () => {
    expect(resolveArgPath(args, ['a', 'b', '1', 'c'])).toBe('x');
    expect(resolveArgPath(args, ['a', 'b', '0'])).toBe(10);
    expect(resolveArgPath(args, ['n'])).toBeNull();
  });

  it('is undefined for anything missing or not indexable', () => {
    expect(resolveArgPath(args, ['a', 'b', '5'])).toBeUndefined();
    expect(resolveArgPath(args, ['a', 'b', 'length'])).toBeUndefined();
    expect(resolveArgPath(args, ['a', 'b', '01'])).toBeUndefined();
    expect(resolveArgPath(args, ['n', 'x'])).toBeUndefined();
    expect(resolveArgPath(undefined, ['a'])).toBeUndefined();
  });

  it('never reads inherited properties', () => {
    expect(resolveArgPath({}, ['constructor'])).toBeUndefined();
    expect(resolveArgPath({}, ['__proto__'])).toBeUndefined();
    expect(resolveArgPath({ a: 'str' }, ['a', 'length'])).toBeUndefined();
  });
});
