/** Durations in config and policy files: a number of seconds, or "500ms", "30s", "5m", "1h", "1d". */

/** The longest delay a Node timer honours (2^31−1 ms, about 24.8 days): setTimeout fires at once for more. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

export function parseDuration(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value * 1000 : undefined;
  const match = DURATION.exec(value.trim());
  if (!match) return undefined;
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

/** `90_000` → `"90s"`, `900_000` → `"15m"`, `1_500` → `"1500ms"`: the largest unit that divides evenly, so it reads back exactly. */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm'] as const) {
    if (ms >= UNIT_MS[unit] && ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  return ms % UNIT_MS.s === 0 ? `${ms / UNIT_MS.s}s` : `${Math.round(ms)}ms`;
}
