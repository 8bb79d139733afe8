/**
 * The pure evaluator: (compiled policy, call) → one decision with the rule that made it. No I/O, no clock:
 * rate limits are returned as requests for the limiter to check atomically, and approvals as a spec for the
 * approval service. Hidden-ness is decided by the same lookup for tools/list (isHidden) and tools/call
 * (evaluate), so the two can never disagree.
 *
 * Order inside a rule (DESIGN.md §4): action deny, deny_if (any), require (all), require_approval_if (any),
 * then the rule's action. Limits apply to allow and require_approval outcomes.
 */
import { resolveArgPath } from './arg-path.js';
import type { CompiledLimit, CompiledPolicy } from './compile.js';
import type { ApprovalSpec } from './schema.js';

export type { ApprovalSpec } from './schema.js';

export interface Caller {
  grant: string;
  agent?: string;
  session?: string;
}

export interface CallInput {
  caller: Caller;
  server: string;
  tool: string;
  args: Record<string, unknown>;
}

export interface LimitRequest {
  /** Counter plus scope value, e.g. `add_communication_to_case_rate|grant:alice`. Same counter, same scope → same key. */
  key: string;
  counter: string;
  windowMs: number;
  max: number;
  /** 1, or the number at `increment_from`. */
  cost: number;
  onExceed: 'deny' | 'require_approval';
  /** JSON Pointer of the limit, e.g. `/tools/create_charge/limits/0`. */
  rule: string;
  /** Who approves when `onExceed` is `require_approval`. */
  approval?: ApprovalSpec;
}

export interface PolicyDecision {
  action: 'allow' | 'deny' | 'hide' | 'require_approval';
  /** JSON Pointer into the policy: `/tools/create_charge/deny_if/0`, `/default`, `/hide/0`. */
  rule: string;
  /** Text for the agent. */
  reason: string;
  /** Every limit matching the call, for the limiter to check atomically; [] for deny and hide. */
  limits: LimitRequest[];
  /** Present exactly when action is `require_approval`. */
  approval?: ApprovalSpec;
}

export function evaluate(policy: CompiledPolicy, call: CallInput): PolicyDecision {
  try {
    return decide(policy, call);
  } catch {
    // Unreachable for JSON arguments; if it ever happens the call must not go through.
    return deny('', 'The policy could not be evaluated for this call.');
  }
}

/** tools/list leaves a tool out exactly when this is true; evaluate() then answers `hide`. */
export function isHidden(policy: CompiledPolicy, server: string, tool: string): boolean {
  return policy.lookup(server, tool).kind === 'hidden';
}

/** The JSON Pointer of what governs the tool: `/hide/i`, `/tools/<key>` or `/default`. */
export function resolveRule(policy: CompiledPolicy, server: string, tool: string): string {
  const found = policy.lookup(server, tool);
  return found.kind === 'hidden' ? found.pointer : found.rule.pointer;
}

function decide(policy: CompiledPolicy, { caller, server, tool, args }: CallInput): PolicyDecision {
  const found = policy.lookup(server, tool);
  if (found.kind === 'hidden') return { action: 'hide', rule: found.pointer, reason: `Tool "${displayName(server, tool)}" is hidden by policy.`, limits: [] };

  const { rule } = found;
  if (rule.action === 'deny') {
    const name = displayName(server, tool);
    return deny(rule.actionPointer, rule.reason ?? (rule.key === undefined ? `Tool "${name}" is not allowed by this policy (default deny).` : `Calls to "${name}" are denied by policy.`));
  }
  for (const check of rule.denyIf) {
    if (check.test(args)) return deny(check.pointer, check.reason ?? rule.reason ?? `Calls to "${displayName(server, tool)}" are denied when ${check.text}.`);
  }
  for (const check of rule.require) {
    if (!check.test(args)) return deny(check.pointer, check.reason ?? rule.reason ?? `Calls to "${displayName(server, tool)}" must satisfy: ${check.text}.`);
  }

  let action: 'allow' | 'require_approval' = 'allow';
  let pointer = rule.actionPointer;
  let reason = rule.allowReason;
  const held = rule.requireApprovalIf.find((check) => check.test(args));
  if (held !== undefined) {
    action = 'require_approval';
    pointer = held.pointer;
    reason = held.reason ?? rule.reason ?? `Calls to "${displayName(server, tool)}" need human approval when ${held.text}.`;
  } else if (rule.action === 'require_approval') {
    action = 'require_approval';
    reason = rule.reason ?? `Calls to "${displayName(server, tool)}" need human approval.`;
  }

  const limits: LimitRequest[] = [];
  for (const limit of rule.limits) {
    const cost = costOf(limit, args);
    if (typeof cost === 'string') return deny(`${limit.pointer}/increment_from`, cost);
    limits.push(limitRequest(limit, caller, cost));
  }
  const decision: PolicyDecision = { action, rule: pointer, reason, limits };
  if (action === 'require_approval') {
    // Validation requires approvers for every approval path; without them nobody could decide.
    if (rule.approval === undefined) return deny(pointer, 'This call needs approval, but the policy names nobody who can approve it.');
    decision.approval = rule.approval;
  }
  return decision;
}

/** The tool as the agent sees it, for generated reasons (built only when one is needed). */
function displayName(server: string, tool: string): string {
  return server === '' ? tool : `${server}__${tool}`;
}

function deny(rule: string, reason: string): PolicyDecision {
  return { action: 'deny', rule, reason, limits: [] };
}

/** The call's cost against a limit, or the reason it cannot be counted (a spend cap must never be skipped). */
function costOf(limit: CompiledLimit, args: unknown): number | string {
  if (limit.incrementFrom === undefined) return 1;
  const value = resolveArgPath(args, limit.incrementFrom.path);
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value;
  const shown = JSON.stringify(value) ?? String(value);
  const got = value === undefined ? 'it is missing' : `got ${shown.length > 40 ? `${shown.slice(0, 37)}...` : shown}`;
  return `${limit.incrementFrom.text} must be a number of 0 or more, because it is counted against limit "${limit.counter}" (${got}).`;
}

function limitRequest(limit: CompiledLimit, caller: Caller, cost: number): LimitRequest {
  const request: LimitRequest = {
    key: `${limit.counter}|${scopeKey(limit, caller)}`,
    counter: limit.counter,
    windowMs: limit.windowMs,
    max: limit.max,
    cost,
    onExceed: limit.onExceed,
    rule: limit.pointer,
  };
  if (limit.approval !== undefined) request.approval = limit.approval;
  return request;
}

/**
 * The scope part of a limit key. A call without an agent label (or session) is counted under its grant, so
 * it still has a limit; a counter has one scope (checks.ts), so this cannot collide with a grant-scoped twin.
 */
function scopeKey(limit: CompiledLimit, { grant, agent, session }: Caller): string {
  switch (limit.scope) {
    case 'global':
      return 'global';
    case 'agent':
      return agent ? `agent:${encodeURIComponent(agent)}` : `grant:${encodeURIComponent(grant)}`;
    case 'session':
      return session ? `session:${encodeURIComponent(session)}` : `grant:${encodeURIComponent(grant)}`;
    case 'grant':
      return `grant:${encodeURIComponent(grant)}`;
  }
}
