/**
 * Validates a call's limit requests and groups them by key: the call is recorded once per key, with the largest
 * cost among that key's requests, and the key's log must be kept for its longest window. Shared by every store so
 * they agree on these rules (see ./README.md).
 */
import { AirlockError } from '../errors/airlock-error.js';
import type { LimitRequest } from './limit-store.js';

export interface KeyGroup {
  readonly key: string;
  /** What one admitted call adds to the key: the largest cost among its requests. */
  weight: number;
  /** The longest window among its requests: entries older than this cannot matter to this call. */
  longestWindowMs: number;
  readonly requests: LimitRequest[];
}

export function groupRequests(requests: readonly LimitRequest[]): KeyGroup[] {
  const groups: KeyGroup[] = [];
  for (const request of requests) {
    validate(request);
    // Calls match a handful of limits, so a linear scan beats building a Map.
    const group = groups.find((g) => g.key === request.key);
    if (group) {
      group.weight = Math.max(group.weight, request.cost);
      group.longestWindowMs = Math.max(group.longestWindowMs, request.windowMs);
      group.requests.push(request);
    } else {
      groups.push({ key: request.key, weight: request.cost, longestWindowMs: request.windowMs, requests: [request] });
    }
  }
  return groups;
}

function validate({ key, windowMs, max, cost, rule }: LimitRequest): void {
  const problem =
    typeof key !== 'string' || key === ''
      ? 'key must be a non-empty string'
      : !(Number.isFinite(windowMs) && windowMs > 0)
        ? `windowMs must be a finite number > 0, got ${windowMs}`
        : !(Number.isFinite(max) && max >= 0)
          ? `max must be a finite number ≥ 0, got ${max}`
          : !(Number.isFinite(cost) && cost >= 0)
            ? `cost must be a finite number ≥ 0, got ${cost}`
            : undefined;
  if (problem) throw new AirlockError('INTERNAL', `Invalid limit request for ${rule}: ${problem}`);
}
