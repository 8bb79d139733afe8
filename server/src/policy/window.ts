/**
 * Durations in a policy: limit windows (`minute`, `60`, `"5m"`) and approval timeouts (`"15m"`).
 * Parsing returns values, never throws, so the schema can report a bad duration as a problem.
 */
import { formatDuration } from '../util/duration.js';
import { didYouMean } from './suggest.js';

export const WINDOW_NAMES = ['second', 'minute', 'hour', 'day'] as const;
export type WindowName = (typeof WINDOW_NAMES)[number];

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const NAME_MS: Record<WindowName, number> = {
  second: UNIT_MS.s,
  minute: UNIT_MS.m,
  hour: UNIT_MS.h,
  day: UNIT_MS.d,
};
const DURATION_TEXT = /^([1-9][0-9]{0,8})([smhd])$/;

export type DurationResult = { ok: true; ms: number } | { ok: false; message: string };

/**
 * A window is a name, a whole number of seconds, or `<n>s|m|h|d`. The upper bound keeps a typo such as
 * `"5d"` for `"5m"` from being silently plausible for a year.
 */
export function parseWindow(value: unknown): DurationResult {
  const expected = 'second, minute, hour, day, a whole number of seconds, or a duration like "30s", "5m", "1h", "1d"';
  return parseDuration(value, { expected, maxMs: 366 * UNIT_MS.d, names: true });
}

/** An approval timeout: `<n>s|m|h|d` or a whole number of seconds, at most 30 days. */
export function parseTimeout(value: unknown): DurationResult {
  const expected = 'a duration like "90s", "15m", "1h" or a whole number of seconds';
  return parseDuration(value, { expected, maxMs: 30 * UNIT_MS.d, names: false });
}

function parseDuration(
  value: unknown,
  { expected, maxMs, names }: { expected: string; maxMs: number; names: boolean },
): DurationResult {
  let ms: number | undefined;
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value <= 0) return { ok: false, message: `must be ${expected} (got ${value})` };
    ms = value * 1_000;
  } else if (typeof value === 'string') {
    if (names && isWindowName(value)) ms = NAME_MS[value];
    const match = DURATION_TEXT.exec(value);
    if (match) ms = Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
    if (ms === undefined) {
      const hint = names ? didYouMean(value, WINDOW_NAMES) : '';
      const numeric = /^[0-9]+$/.test(value) ? `; write it as the number ${value}` : '';
      return { ok: false, message: `must be ${expected} (got "${value}")${hint}${numeric}` };
    }
  } else {
    return { ok: false, message: `must be ${expected}` };
  }
  if (ms > maxMs) return { ok: false, message: `is longer than the maximum of ${formatDuration(maxMs)}` };
  return { ok: true, ms };
}

function isWindowName(value: string): value is WindowName {
  return (WINDOW_NAMES as readonly string[]).includes(value);
}

