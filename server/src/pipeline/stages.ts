/**
 * The order of the tools/call pipeline, written once. Config turns stages on and tunes them; it never reorders
 * them. The audit gate comes first: nothing runs that could not be recorded. Policy runs before limits so a
 * denied call spends no quota; approval runs after limits so a human never reviews a call that would be
 * throttled; forward is the only stage that talks to the upstream.
 */
import type { LimitStore } from '../limits/limit-store.js';
import { forwardStage } from './forward-stage.js';
import { routeStage } from './route-stage.js';
import type { Stage } from './tool-call.js';

export interface PipelineParts {
  auditGate?: Stage;
  policy?: Stage;
  limits?: Stage;
  approval?: Stage;
  /** The store the limits stage consumed from, so a failed upstream call gets its quota back. */
  limitStore?: LimitStore;
}

export function buildStages(parts: PipelineParts = {}): Stage[] {
  const refund = parts.limitStore ? (reservation: string) => parts.limitStore!.refund(reservation) : undefined;
  return [parts.auditGate, routeStage, parts.policy, parts.limits, parts.approval, forwardStage(refund)].filter((stage): stage is Stage => stage !== undefined);
}
