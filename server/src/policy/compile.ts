/**
 * Turns a validated policy into lookup tables and closures, once per load, so evaluation does no parsing,
 * no regex compilation and no scanning of rules it does not need: exact keys are a Map, globs are pre-ranked,
 * and the answer for each tool name is memoised. Compile cannot fail: everything that could go wrong was a
 * validation problem first, so a CompiledPolicy is always whole.
 */
import { hashJson, type JsonValue } from '../util/canonical-json.js';
import type { ArgPath } from './arg-path.js';
import { compileCondition } from './conditions.js';
import { callNames, compileGlob, globRank, isGlob, type NameMatcher } from './match.js';
import { toPointer, type Segment } from './paths.js';
import type { Action, ApprovalSpec, Condition, Limit, Policy, PolicyDocument, Scope, ToolRule } from './schema.js';

export interface CompiledCheck {
  readonly pointer: string;
  readonly test: (args: unknown) => boolean;
  readonly text: string;
  readonly reason: string | undefined;
}

export interface CompiledLimit {
  readonly pointer: string;
  readonly counter: string;
  readonly windowMs: number;
  readonly max: number;
  readonly scope: Scope;
  readonly incrementFrom: { readonly text: string; readonly path: ArgPath } | undefined;
  readonly onExceed: 'deny' | 'require_approval';
  readonly approval: ApprovalSpec | undefined;
}

export interface CompiledRule {
  /** The tool key, or undefined for the policy default. */
  readonly key: string | undefined;
  readonly pointer: string;
  readonly action: Action;
  readonly actionPointer: string;
  readonly reason: string | undefined;
  /** Precomputed: an allow is the hot path. */
  readonly allowReason: string;
  readonly denyIf: readonly CompiledCheck[];
  readonly require: readonly CompiledCheck[];
  readonly requireApprovalIf: readonly CompiledCheck[];
  /** all_tools limits first, then the rule's own. */
  readonly limits: readonly CompiledLimit[];
  /** The rule's approval, else the policy's top-level one. */
  readonly approval: ApprovalSpec | undefined;
}

export type Lookup = { readonly kind: 'hidden'; readonly pointer: string } | { readonly kind: 'rule'; readonly rule: CompiledRule };

export interface CompiledPolicy {
  /** SHA-256 of the canonical policy JSON; approvals are bound to it. */
  readonly version: string;
  /** The policy as written, deep-frozen. */
  readonly source: PolicyDocument;
  readonly defaultAction: Action;
  readonly toolCount: number;
  /** What governs a call to `tool` on `server`: a hide entry or a rule (the default included). */
  readonly lookup: (server: string, tool: string) => Lookup;
}

/**
 * Bounds the per-name memo. Names come from the upstreams' catalogs (routing refuses unknown tools first),
 * so this is a ceiling against a misbehaving caller, not a working-set size; the oldest entry goes first.
 */
const MEMO_LIMIT = 65_536;

export function compilePolicy(policy: Policy, document: PolicyDocument): CompiledPolicy {
  // Approval specs are handed to every decision that needs them; frozen so no caller can edit the policy.
  const topApproval = policy.approval && deepFreeze(policy.approval);
  const shared = policy.all_tools?.limits ?? [];
  const compileShared = (approval: ApprovalSpec | undefined) =>
    shared.map((limit, i) => compileLimit(limit, ['all_tools', 'limits', i], approval));

  const defaultRule: CompiledRule = {
    key: undefined,
    pointer: '/default',
    action: policy.default,
    actionPointer: '/default',
    reason: undefined,
    allowReason: 'Allowed by the policy default.',
    denyIf: [],
    require: [],
    requireApprovalIf: [],
    limits: compileShared(topApproval),
    approval: topApproval,
  };

  const exact = new Map<string, CompiledRule>();
  const globs: { match: NameMatcher; rule: CompiledRule; rank: number; order: number }[] = [];
  Object.entries(policy.tools ?? {}).forEach(([key, rule], order) => {
    const approval = rule.approval ? deepFreeze(rule.approval) : topApproval;
    const compiled = compileRule(key, rule, [...compileShared(approval), ...ownLimits(key, rule, approval)], approval);
    if (isGlob(key)) globs.push({ match: compileGlob(key), rule: compiled, rank: globRank(key), order });
    else exact.set(key, compiled);
  });
  globs.sort((a, b) => b.rank - a.rank || a.order - b.order);

  const hideExact = new Map<string, number>();
  const hideGlobs: { match: NameMatcher; index: number }[] = [];
  (policy.hide ?? []).forEach((entry, index) => {
    if (!isGlob(entry)) {
      if (!hideExact.has(entry)) hideExact.set(entry, index);
    } else hideGlobs.push({ match: compileGlob(entry), index });
  });

  /** The first hide entry in file order that matches any of the call's names. */
  const hiddenBy = (names: readonly string[]): number | undefined => {
    let best = Infinity;
    for (const name of names) best = Math.min(best, hideExact.get(name) ?? Infinity);
    for (const glob of hideGlobs) {
      if (glob.index > best) break;
      if (names.some(glob.match)) return glob.index;
    }
    return best === Infinity ? undefined : best;
  };

  // Precedence (DESIGN.md §4): hide, then qualified exact, bare exact, best-ranked glob, default.
  const resolve = (server: string, tool: string): Lookup => {
    const names = callNames(server, tool);
    const hidden = hiddenBy(names);
    if (hidden !== undefined) return { kind: 'hidden', pointer: toPointer(['hide', hidden]) };
    for (const name of names) {
      const rule = exact.get(name);
      if (rule !== undefined) return { kind: 'rule', rule };
    }
    const glob = globs.find((g) => names.some(g.match));
    return { kind: 'rule', rule: glob?.rule ?? defaultRule };
  };

  const memo = new Map<string, Lookup>();
  const lookup = (server: string, tool: string): Lookup => {
    const memoKey = `${server}\u0000${tool}`;
    let found = memo.get(memoKey);
    if (found === undefined) {
      if (memo.size >= MEMO_LIMIT) memo.delete(memo.keys().next().value as string);
      found = resolve(server, tool);
      memo.set(memoKey, found);
    }
    return found;
  };

  return Object.freeze({
    // A policy's identity: reformatting the file keeps the version approvals are bound to, a change of meaning
    // changes it. The document is parsed JSON, so it holds nothing canonical JSON refuses.
    version: hashJson(document as JsonValue),
    source: deepFreeze(document),
    defaultAction: policy.default,
    toolCount: Object.keys(policy.tools ?? {}).length,
    lookup,
  });
}

function compileRule(key: string, rule: ToolRule, limits: CompiledLimit[], approval: ApprovalSpec | undefined): CompiledRule {
  const base = ['tools', key];
  return {
    key,
    pointer: toPointer(base),
    action: rule.action ?? 'allow',
    actionPointer: toPointer(rule.action === undefined ? base : [...base, 'action']),
    reason: rule.reason,
    allowReason: `Allowed by the policy rule "${key}".`,
    denyIf: compileChecks(rule.deny_if, [...base, 'deny_if']),
    require: compileChecks(rule.require, [...base, 'require']),
    requireApprovalIf: compileChecks(rule.require_approval_if, [...base, 'require_approval_if']),
    limits,
    approval,
  };
}

function ownLimits(key: string, rule: ToolRule, approval: ApprovalSpec | undefined): CompiledLimit[] {
  return (rule.limits ?? []).map((limit, i) => compileLimit(limit, ['tools', key, 'limits', i], approval));
}

function compileChecks(conditions: readonly Condition[] | undefined, base: Segment[]): CompiledCheck[] {
  return (conditions ?? []).map((condition, i) => {
    const { test, text } = compileCondition({
      path: condition.path.path,
      pathText: condition.path.text,
      op: condition.op,
      value: condition.value,
      flags: condition.flags,
    });
    return { pointer: toPointer([...base, i]), test, text, reason: condition.reason };
  });
}

function compileLimit(limit: Limit, path: Segment[], approval: ApprovalSpec | undefined): CompiledLimit {
  return {
    pointer: toPointer(path),
    counter: limit.counter,
    windowMs: limit.window,
    max: limit.max,
    scope: limit.scope,
    incrementFrom: limit.increment_from,
    onExceed: limit.on_exceed,
    approval: limit.on_exceed === 'require_approval' ? approval : undefined,
  };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
