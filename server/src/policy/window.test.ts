import { describe, expect, it } from 'vitest';

import { parseTimeout, parseWindow } from './window.js';

describe('parseWindow', () => {
  it.each([
    ['second', 1_000],
    ['minute', 60_000],
    ['hour', 3_600_000],
    ['day', 86_400_000],
    [30, 30_000],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
  ])('%j is %i ms', (value, ms) => {
    expect(parseWindow(value)).toEqual({ ok: true, ms });
  });

  it.each([0, -1, 1.5, '0s', '5 m', '5M', '1w', 'minutes', '', null, true, [], {}, '400d'])('refuses %j', (value) => {
    expect(parseWindow(value)).toMatchObject({ ok: false, message: expect.any(String) });
  });
});

describe('parseTimeout', () => {
  it('takes durations and seconds but not window names', () => {
    expect(parseTimeout('15m')).toEqual({ ok: true, ms: 900_000 });
    expect(parseTimeout(90)).toEqual({ ok: true, ms: 90_000 });
    expect(parseTimeout('minute').ok).toBe(false);
    expect(parseTimeout('31d').ok).toBe(false);
  });
});
