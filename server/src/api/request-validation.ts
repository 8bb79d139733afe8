/**
 * Validates a request's query or JSON body against a flat zod object schema and turns zod's issues into one
 * sentence that names each field and its problem, so a caller can fix the request without reading our source.
 */
import type { z } from 'zod';

import { AirlockError } from '../errors/airlock-error.js';

type Issue = z.core.$ZodIssue;
type Part = 'query' | 'body';

/** Returns the parsed value or throws a BAD_REQUEST AirlockError describing every problem. */
export function parseRequest<Schema extends z.ZodObject>(schema: Schema, input: unknown, part: Part): z.output<Schema> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const known = Object.keys(schema.shape);
  const problems = result.error.issues.map((issue) => describeIssue(issue, input, part, known));
  throw new AirlockError('BAD_REQUEST', `Invalid request ${part}: ${problems.join('; ')}`);
}

function describeIssue(issue: Issue, input: unknown, part: Part, known: readonly string[]): string {
  const field = issue.path.map(String).join('.');
  const name = field === '' ? `the ${part}` : `"${field}"`;
  const value = field === '' ? input : valueAt(input, issue.path);
  switch (issue.code) {
    case 'unrecognized_keys': {
      const what = part === 'query' ? 'parameter' : 'field';
      const keys = issue.keys.map((key) => `"${key}"`).join(', ');
      return `unknown ${what}${issue.keys.length > 1 ? 's' : ''} ${keys} (expected ${known.map((key) => `"${key}"`).join(', ')})`;
    }
    case 'invalid_value': {
      const options = issue.values.map((option) => JSON.stringify(option)).join(', ');
      return value === undefined ? `${name} is required: one of ${options}` : `${name} must be one of ${options} (got ${describe(value)})`;
    }
    case 'invalid_type':
      if (value === undefined) return `${name} is required`;
      return `${name} must be ${TYPE_NAMES[issue.expected] ?? issue.expected} (got ${describe(value)})`;
    case 'too_big':
      return `${name} must be at most ${String(issue.maximum)}${issue.origin === 'string' ? ' characters' : ''}`;
    case 'too_small':
      return `${name} must be at least ${String(issue.minimum)}${issue.origin === 'string' ? ' characters' : ''}`;
    default:
      return `${name}: ${issue.message}`;
  }
}

const TYPE_NAMES: Record<string, string> = {
  object: 'a JSON object',
  string: 'a string',
  // z.coerce.number() reports "number" for text that is not one; every number we take is a count.
  number: 'a whole number',
  int: 'a whole number',
};

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  const text = JSON.stringify(value);
  return text.length > 40 ? `${text.slice(0, 37)}…` : text;
}
