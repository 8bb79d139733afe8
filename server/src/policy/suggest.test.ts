import { describe, expect, it } from 'vitest';

import { didYouMean, editDistance, nearestWord } from './suggest.js';

describe('editDistance', () => {
  it.each([
    ['gt', 'gt', 0],
    ['gtt', 'gt', 1],
    ['nqe', 'neq', 1],
    ['deny_iff', 'deny_if', 1],
    ['Require-Approval', 'require_approval', 0],
    ['', 'abc', 3],
  ])('%s → %s is %i', (a, b, distance) => {
    expect(editDistance(a, b)).toBe(distance);
  });
});

describe('nearestWord', () => {
  it('picks the closest candidate', () => {
    expect(nearestWord('minutes', ['second', 'minute', 'hour', 'day'])).toBe('minute');
  });

  it('does not suggest for short words that are merely different', () => {
    expect(nearestWord('in', ['eq', 'gt'])).toBeUndefined();
  });

  it('gives up on long text', () => {
    expect(nearestWord('x'.repeat(100), ['x'])).toBeUndefined();
  });
});

describe('didYouMean', () => {
  it('formats a suggestion, or nothing', () => {
    expect(didYouMean('alow', ['allow', 'deny'])).toBe('; did you mean "allow"?');
    expect(didYouMean('zzz', ['allow', 'deny'])).toBe('');
  });
});
