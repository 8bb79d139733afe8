/**
 * Argument conditions `{path, op, value}` and what each op means. The schema validates a condition with the
 * helpers here, and compile turns it into a closure, so the evaluator never re-reads the policy text.
 *
 * Fail-closed choices (see README.md): a condition about a value holds only when the value is present and of a
 * type the op understands. So a `require` on a missing or mistyped argument fails (deny), and a `deny_if` or
 * `require_approval_if` on one does not fire; authors who need "must be a number below X" write a `require`.
 */
import { resolveArgPath, type ArgPath } from './arg-path.js';

export const OPS = ['eq', 'neq', 'in', 'not_in', 'lt', 'lte', 'gt', 'gte', 'regex', 'contains', 'exists'] as const;
export type Op = (typeof OPS)[number];

export const REGEX_FLAGS = ['i', 'm', 's', 'u'] as const;
const MAX_REGEX_LENGTH = 512;
// A quantified group whose body holds an unbounded quantifier, e.g. `(a+)+` or `(\w+\s?)*`: the shape behind
// exponential backtracking. Crude on purpose; JavaScript has no linear-time regex engine to fall back on.
const NESTED_QUANTIFIER = /\((?:[^()\\]|\\.)*(?:[+*]|\{\d+,\})(?:[^()\\]|\\.)*\)(?:[+*]|\{\d+,?\d*\})/;

export type RegexResult = { ok: true; regex: RegExp } | { ok: false; message: string };

/** Compiles a policy regex, refusing ones that are too long or shaped for catastrophic backtracking. */
export function compileRegex(pattern: string, flags = ''): RegexResult {
  if (pattern.length > MAX_REGEX_LENGTH) {
    return { ok: false, message: `regex is ${pattern.length} characters long; the maximum is ${MAX_REGEX_LENGTH}` };
  }
  if (NESTED_QUANTIFIER.test(pattern)) {
    return {
      ok: false,
      message: 'regex has a repeated group that itself repeats (like "(a+)+"), which can take exponential time; rewrite it without the nesting',
    };
  }
  try {
    return { ok: true, regex: new RegExp(pattern, flags) };
  } catch (error) {
    return { ok: false, message: `invalid regex: ${(error as Error).message}` };
  }
}

export interface ConditionSpec {
  path: ArgPath;
  pathText: string;
  op: Op;
  /** Absent only for `exists`, where it defaults to true. */
  value?: unknown;
  flags?: string;
}

export interface CompiledCondition {
  readonly test: (args: unknown) => boolean;
  /** Human text such as `args.amount > 100000`, used in generated reasons. */
  readonly text: string;
}

export function compileCondition(spec: ConditionSpec): CompiledCondition {
  const { path, op, value } = spec;
  const holds = predicate(spec);
  const test =
    op === 'exists'
      ? (args: unknown) => holds(resolveArgPath(args, path))
      : (args: unknown) => {
          const actual = resolveArgPath(args, path);
          return actual !== undefined && holds(actual);
        };
  return { test, text: describe(spec.pathText, op, value, spec.flags) };
}

function predicate({ op, value, flags }: ConditionSpec): (actual: unknown) => boolean {
  switch (op) {
    case 'eq':
      return (actual) => looseEquals(actual, value);
    case 'neq':
      return (actual) => !looseEquals(actual, value);
    case 'in': {
      const list = value as readonly unknown[];
      return (actual) => list.some((item) => looseEquals(actual, item));
    }
    case 'not_in': {
      const list = value as readonly unknown[];
      return (actual) => !list.some((item) => looseEquals(actual, item));
    }
    case 'lt':
      return compare(value as number, (a, b) => a < b);
    case 'lte':
      return compare(value as number, (a, b) => a <= b);
    case 'gt':
      return compare(value as number, (a, b) => a > b);
    case 'gte':
      return compare(value as number, (a, b) => a >= b);
    case 'regex': {
      const compiled = compileRegex(value as string, flags);
      // The schema refused bad regexes; if one slips through, a condition that never holds fails closed for
      // `require` and is inert for `deny_if` - the same rule as any other type mismatch.
      if (!compiled.ok) return () => false;
      const { regex } = compiled;
      return (actual) => typeof actual === 'string' && regex.test(actual);
    }
    case 'contains':
      return (actual) => {
        if (typeof actual === 'string') return typeof value === 'string' && actual.includes(value);
        if (Array.isArray(actual)) return actual.some((item) => looseEquals(item, value));
        return false;
      };
    case 'exists': {
      const wanted = value !== false;
      // null counts as absent: `require: args.reason exists` must not pass with `"reason": null`.
      return (actual) => (actual !== undefined && actual !== null) === wanted;
    }
  }
}

function compare(limit: number, cmp: (a: number, b: number) => boolean): (actual: unknown) => boolean {
  return (actual) => {
    const number = asNumber(actual);
    return number !== undefined && cmp(number, limit);
  };
}

// The JSON number grammar: "007", " 5" and "0x10" stay strings.
const NUMERIC_STRING = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/;

/**
 * Numbers, and strings written exactly like JSON numbers, compare as numbers. Upstreams commonly coerce
 * `"150000"` to 150000, so a `deny_if: amount gt 100000` must see it as a number too.
 */
function asNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && NUMERIC_STRING.test(value)) return Number(value);
  return undefined;
}

/** Deep JSON equality, plus number-vs-numeric-string equality at the top level (see asNumber). */
export function looseEquals(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'string') return asNumber(b) === a;
  if (typeof a === 'string' && typeof b === 'number') return asNumber(a) === b;
  return deepEquals(a, b);
}

function deepEquals(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, i) => deepEquals(item, b[i]));
  }
  const aKeys = Object.keys(a);
  const bRecord = b as Record<string, unknown>;
  return (
    aKeys.length === Object.keys(b).length &&
    aKeys.every((key) => Object.hasOwn(bRecord, key) && deepEquals((a as Record<string, unknown>)[key], bRecord[key]))
  );
}

const OP_TEXT: Record<Exclude<Op, 'exists' | 'regex'>, string> = {
  eq: '=',
  neq: '!=',
  in: 'in',
  not_in: 'not in',
  lt: '<',
  lte: '<=',
  gt: '>',
  gte: '>=',
  contains: 'contains',
};

function describe(pathText: string, op: Op, value: unknown, flags: string | undefined): string {
  if (op === 'exists') return value === false ? `${pathText} is absent` : `${pathText} is present`;
  if (op === 'regex') return `${pathText} matches /${String(value)}/${flags ?? ''}`;
  return `${pathText} ${OP_TEXT[op]} ${JSON.stringify(value)}`;
}
