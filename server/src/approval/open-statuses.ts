/**
 * The statuses a decision still applies to: pending, and abandoned (the gateway stopped while holding the call;
 * the agent's identical retry gets the decision). A module of its own, free of dependencies, so the console's
 * bundle keeps the same rule as the service, Slack and the stream.
 */
import type { ApprovalStatus } from './approval.js';

export const OPEN_STATUSES = ['pending', 'abandoned'] as const satisfies readonly ApprovalStatus[];

export function isOpen(status: ApprovalStatus): boolean {
  return (OPEN_STATUSES as readonly ApprovalStatus[]).includes(status);
}
