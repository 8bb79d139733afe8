import { describe, expect, it } from 'vitest';

import { compileCondition, compileRegex, looseEquals, type Op } from './conditions.js';

function holds(op: Op, value: unknown, actual: unknown): boolean {
  return compileCondition({ path: ['v'], pathText: 'args.v', op, value }).test(actual === undefined ? {} : { v: actual });
}

describe('looseEquals', () => {
  it.each([
    [1, 1, true],
    [1, '1', true],
    ['1.5', 1.5, true],
    ['007', 7, false],
    ['7', '7.0', false],
    [' 7', 7, false],
    [null, null, true],
    [null, 'null', false],
    [true, 'true', false],
    [[1, { a: 2 }], [1, { a: 2 }], true],
    [[1, 2], [2, 1], false],
    [{ a: 1 }, { a: 1, b: 2 }, false],
    [[1], { 0: 1 }, false],
  ])('%j vs %j is %s', (a, b, expected) => {
    expect(looseEquals(a, b)).toBe(expected);
    expect(looseEquals(b, a)).toBe(expected);
  });
});

describe('compileCondition', () => {
  it('compares numeric strings as numbers, including overflow', () => {
    expect(holds('gt', 100, '150')).toBe(true);
    expect(holds('gt', 100, '1e999')).toBe(true);
    expect(holds('lte', 100, '1e999')).toBe(false);
    expect(holds('gt', 100, '0x1000')).toBe(false);
  });

  it('holds for no op but exists when the value is missing', () => {
    for (const [op, value] of [['eq', 1], ['neq', 1], ['in', [1]], ['not_in', [1]], ['lt', 1], ['gte', 1], ['regex', '.*'], ['contains', 'a']] as const) {
      expect(holds(op, value, undefined)).toBe(false);
    }
    expect(holds('exists', false, undefined)).toBe(true);
  });

  it('matches regexes against strings only', () => {
    expect(holds('regex', '^\\d+$', '123')).toBe(true);
    expect(holds('regex', '^\\d+$', 123)).toBe(false);
  });

  it('contains looks into strings and lists, not objects', () => {
    expect(holds('contains', 'b', 'abc')).toBe(true);
    expect(holds('contains', 2, [1, '2'])).toBe(true);
    expect(holds('contains', 'a', { a: 1 })).toBe(false);
    expect(holds('contains', 1, 'a1')).toBe(false);
  });

  it('describes itself for generated reasons', () => {
    expect(compileCondition({ path: ['a'], pathText: 'args.a', op: 'not_in', value: ['x'] }).text).toBe('args.a not in ["x"]');
    expect(compileCondition({ path: ['a'], pathText: 'args.a', op: 'regex', value: '^x', flags: 'i' }).text).toBe('args.a matches /^x/i');
    expect(compileCondition({ path: ['a'], pathText: 'args.a', op: 'exists', value: false }).text).toBe('args.a is absent');
  });
});

describe('compileRegex', () => {
  it.each(['(a+)+', '(a*)*b', '(\\w+\\s?)*$', '(?:x+){2,}'])('refuses the backtracking shape %s', (pattern) => {
    expect(compileRegex(pattern)).toMatchObject({ ok: false, message: expect.stringContaining('exponential') });
  });

  it.each(['^feat/', '(\\d{3})+', '^(ab|cd)+$', '[a-z]+@example\\.com$'])('accepts %s', (pattern) => {
    expect(compileRegex(pattern).ok).toBe(true);
  });

  it('refuses long and invalid patterns', () => {
    expect(compileRegex('a'.repeat(513)).ok).toBe(false);
    expect(compileRegex('[').ok).toBe(false);
  });

  it('checks a long adversarial pattern quickly', () => {
    const start = performance.now();
    compileRegex(`(${'+'.repeat(510)}`);
    expect(performance.now() - start).toBeLessThan(100);
  });
});
