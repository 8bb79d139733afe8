/**
 * Turns zod issues into problems a policy author can act on: plain wording, the nearest valid word for a
 * misspelling, and the JSON path to locate it. Positions are resolved later from the text (load.ts).
 */
import * as z from 'zod';

import type { TextProblem } from './json-text.js';
import type { Segment } from './paths.js';
import { didYouMean } from './suggest.js';

type Issue = z.ZodError['issues'][number];

/** Values whose mistake deserves more than "did you mean". */
const HINTS: Record<string, string> = {
  hide: '; hidden tools are listed in the top-level "hide" array',
  evaluate: '; conditions go in "deny_if", "require" or "require_approval_if"',
};

export function problemsFromIssues(
  issues: readonly Issue[],
  document: unknown,
  schema: z.ZodType,
  offsetOf: (path: readonly Segment[], atKey: boolean) => number,
): TextProblem[] {
  const problems: TextProblem[] = [];
  const add = (path: Segment[], message: string, atKey = false) =>
    problems.push({ path, message, offset: offsetOf(path, atKey) });

  for (const issue of issues) {
    const path = issue.path.filter((s): s is Segment => typeof s !== 'symbol');
    const actual = valueAt(document, path);
    switch (issue.code) {
      case 'unrecognized_keys': {
        const known = knownKeysAt(schema, path);
        for (const key of issue.keys) {
          // json-text.ts already refused __proto__ with its own message.
          if (key === '__proto__') continue;
          const hint = didYouMean(key, known) || ` (expected one of: ${known.join(', ')})`;
          add([...path, key], `unknown key "${key}"${hint}`, true);
        }
        break;
      }
      case 'invalid_type':
      case 'invalid_value':
        if (actual === undefined) add(path, `missing required key "${String(path.at(-1))}"`);
        else if (issue.code === 'invalid_value') add(path, invalidValueMessage(issue.values, actual));
        else add(path, `must be ${TYPE_TEXT[issue.expected] ?? issue.expected} (got ${describeValue(actual)})`);
        break;
      case 'too_small':
        add(path, tooSmallMessage(issue));
        break;
      case 'too_big':
        add(path, issue.origin === 'string' ? `is longer than ${issue.maximum} characters` : `must be at most ${issue.maximum}`);
        break;
      case 'invalid_key':
        add(path, issue.issues.map((inner) => inner.message).join('; '), true);
        break;
      default:
        add(path, issue.message);
    }
  }
  return problems;
}

const TYPE_TEXT: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  array: 'a list',
  object: 'an object',
  record: 'an object',
};

/** Accepted aliases, left out of "must be one of" so the message teaches the canonical spelling. */
const ALIASES = new Set<unknown>(['require-approval']);

function invalidValueMessage(values: readonly unknown[], actual: unknown): string {
  const listed = values.filter((v) => !ALIASES.has(v)).map((v) => JSON.stringify(v));
  if (listed.length === 1) {
    const asString = values[0] === String(actual) ? `; write it as the string ${listed[0]}` : '';
    return `must be ${listed[0]} (got ${describeValue(actual)})${asString}`;
  }
  const words = values.filter((v): v is string => typeof v === 'string' && !ALIASES.has(v));
  const hint = typeof actual === 'string' ? (HINTS[actual] ?? didYouMean(actual, words)) : '';
  return `must be one of ${listed.join(', ')} (got ${describeValue(actual)})${hint}`;
}

function tooSmallMessage(issue: Extract<Issue, { code: 'too_small' }>): string {
  if (issue.origin === 'array') return `must list at least ${issue.minimum} entr${issue.minimum === 1 ? 'y' : 'ies'}`;
  if (issue.origin === 'string') return 'must not be empty';
  return issue.inclusive ? `must be at least ${issue.minimum}` : `must be greater than ${issue.minimum}`;
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  const text = typeof value === 'number' ? String(value) : JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function valueAt(document: unknown, path: readonly Segment[]): unknown {
  let current = document;
  for (const segment of path) {
    if (typeof current !== 'object' || current === null || !Object.hasOwn(current, segment)) return undefined;
    current = (current as Record<string | number, unknown>)[segment];
  }
  return current;
}

/** The keys the schema allows for the object at `path`, for "did you mean". */
export function knownKeysAt(schema: z.ZodType, path: readonly Segment[]): string[] {
  let current: z.ZodType | undefined = unwrap(schema);
  for (const segment of path) {
    if (current instanceof z.ZodObject) current = (current.shape as Record<string, z.ZodType>)[String(segment)];
    else if (current instanceof z.ZodRecord) current = current.valueType as z.ZodType;
    else if (current instanceof z.ZodArray) current = current.element as z.ZodType;
    else return [];
    current = current && unwrap(current);
  }
  return current instanceof z.ZodObject ? Object.keys(current.shape) : [];
}

function unwrap(schema: z.ZodType): z.ZodType {
  let current = schema;
  for (;;) {
    if (current instanceof z.ZodOptional || current instanceof z.ZodDefault) current = current.unwrap() as z.ZodType;
    else if (current instanceof z.ZodPipe) current = current.in as z.ZodType;
    else return current;
  }
}
