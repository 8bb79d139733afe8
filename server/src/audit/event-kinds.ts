/**
 * Every decision and outcome of the gateway. Stored as text, so a new kind needs no migration. A module of its own,
 * free of dependencies, so the console's bundle can offer the same list as a filter.
 */
export const AUDIT_EVENT_KINDS = [
  'allowed',
  'denied',
  'rate_limited',
  'approval_requested',
  'approval_joined',
  'approval_vote',
  'approved',
  'rejected',
  'expired',
  'cancelled',
  'abandoned',
  'executed',
  'policy_loaded',
  'policy_refused',
] as const;
export type AuditEventKind = (typeof AUDIT_EVENT_KINDS)[number];
