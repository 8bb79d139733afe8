import { describe, expect, it } from 'vitest';

import { formatDuration } from './duration.js';

describe('formatDuration', () => {
  it.each([
    [900_000, '15m'],
    [90_000, '90s'],
    [86_400_000, '1d'],
    [7_200_000, '2h'],
    [1_500, '1500ms'],
  ])('%i ms is %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});
