/**
 * Checks that span several parts of a policy, run once the structure is valid: counters that would be counted
 * two ways, approvals nobody could give, duplicate hide entries. Each is a problem rather than a guess, so a
 * policy means exactly one thing.
 */
import { toDottedPath as pathText, type Segment } from './paths.js';
import type { Limit, Policy, ToolRule } from './schema.js';

export interface PathProblem {
  path: Segment[];
  message: string;
}

export function crossCheck(policy: Policy): PathProblem[] {
  return [...checkHide(policy), ...checkCounters(policy), ...checkApprovers(policy)];
}

function checkHide({ hide = [] }: Policy): PathProblem[] {
  const problems: PathProblem[] = [];
  const seen = new Set<string>();
  hide.forEach((name, i) => {
    if (seen.has(name)) problems.push({ path: ['hide', i], message: `"${name}" is listed twice` });
    seen.add(name);
  });
  return problems;
}

interface PlacedLimit {
  limit: Limit;
  path: Segment[];
}

/**
 * Limits sharing a counter share one count, so they must agree on what a count is (window and scope), and
 * one call must not count the same counter twice (in both all_tools and its tool, or twice in one list).
 */
function checkCounters(policy: Policy): PathProblem[] {
  const problems: PathProblem[] = [];
  const shared = (policy.all_tools?.limits ?? []).map((limit, i) => ({ limit, path: ['all_tools', 'limits', i] }));
  const lists: PlacedLimit[][] = [shared];
  for (const [key, rule] of Object.entries(policy.tools ?? {})) {
    lists.push((rule.limits ?? []).map((limit, i) => ({ limit, path: ['tools', key, 'limits', i] })));
  }

  const first = new Map<string, PlacedLimit>();
  for (const placed of lists.flat()) {
    const earlier = first.get(placed.limit.counter);
    if (earlier === undefined) {
      first.set(placed.limit.counter, placed);
      continue;
    }
    const where = pathText(earlier.path);
    if (earlier.limit.window !== placed.limit.window) {
      problems.push({ path: [...placed.path, 'window'], message: `counter "${placed.limit.counter}" is also defined at ${where} with a different window; limits sharing a counter share one count and must use the same window` });
    }
    if (earlier.limit.scope !== placed.limit.scope) {
      problems.push({ path: [...placed.path, 'scope'], message: `counter "${placed.limit.counter}" is also defined at ${where} with scope "${earlier.limit.scope}"; limits sharing a counter must use the same scope` });
    }
  }

  const sharedCounters = new Map(shared.map((p) => [p.limit.counter, p]));
  lists.forEach((list, listIndex) => {
    const inList = new Map<string, PlacedLimit>();
    for (const placed of list) {
      const twice = inList.get(placed.limit.counter) ?? (listIndex > 0 ? sharedCounters.get(placed.limit.counter) : undefined);
      if (twice !== undefined) {
        problems.push({ path: [...placed.path, 'counter'], message: `counter "${placed.limit.counter}" is already counted for this call by ${pathText(twice.path)}; one call cannot count a counter twice` });
      }
      inList.set(placed.limit.counter, placed);
    }
  });
  return problems;
}

/** Every way a call can end in `require_approval` must name who approves; otherwise it could only expire. */
function checkApprovers(policy: Policy): PathProblem[] {
  if (policy.approval !== undefined) return [];
  const problems: PathProblem[] = [];
  const advice = 'add an "approval" block with approvers here or at the top level of the policy';
  if (policy.default === 'require_approval') {
    problems.push({ path: ['default'], message: `default "require_approval" needs approvers: add a top-level "approval" block` });
  }
  const rules = Object.entries(policy.tools ?? {}).filter(([, rule]) => rule.action !== 'deny');
  for (const [key, rule] of rules) {
    const trigger = approvalTrigger(rule);
    if (trigger !== undefined && rule.approval === undefined) {
      problems.push({ path: ['tools', key, ...trigger], message: `this can require approval, but nobody is named to approve: ${advice}` });
    }
  }
  // all_tools limits reach calls under the default and under every rule without approvers of its own.
  const uncovered = policy.default !== 'deny' || rules.some(([, rule]) => rule.approval === undefined);
  (policy.all_tools?.limits ?? []).forEach((limit, i) => {
    if (limit.on_exceed === 'require_approval' && uncovered) {
      problems.push({ path: ['all_tools', 'limits', i, 'on_exceed'], message: `"require_approval" needs approvers for every tool it applies to: add a top-level "approval" block` });
    }
  });
  return problems;
}

function approvalTrigger(rule: ToolRule): Segment[] | undefined {
  if (rule.action === 'require_approval') return ['action'];
  if ((rule.require_approval_if ?? []).length > 0) return ['require_approval_if'];
  const index = (rule.limits ?? []).findIndex((limit) => limit.on_exceed === 'require_approval');
  return index < 0 ? undefined : ['limits', index, 'on_exceed'];
}
