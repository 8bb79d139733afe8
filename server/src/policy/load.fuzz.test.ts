/**
 * Thousands of malformed policies: mutations of valid ones that are each guaranteed to break them (wrong types,
 * misspelled keys, missing keys, bad conditions and limits), corrupted text, and random input. Every one must
 * be refused with located problems, nothing may throw, and a refusal never carries a policy.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { loadPolicy, type LoadResult } from './load.js';

type Json = Record<string, unknown>;
type Mutation = (document: Json) => void;

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/policies/', import.meta.url));
const VALID_BASES = readdirSync(FIXTURES)
  .filter((name) => !name.startsWith('invalid-'))
  .map((name) => JSON.parse(readFileSync(`${FIXTURES}${name}`, 'utf8')) as Json);
const TOP_KEYS = ['$schema', 'name', 'description', 'version', 'default', 'hide', 'all_tools', 'tools', 'approval'];
const RULE_KEYS = ['action', 'reason', 'description', 'deny_if', 'require', 'require_approval_if', 'limits', 'approval'];

function expectRefused(result: LoadResult, text: string): void {
  expect(result.ok).toBe(false);
  if (result.ok) return;
  expect(Object.keys(result).sort()).toEqual(['ok', 'problems']);
  expectLocatedProblems(result, text);
}

function expectLocatedProblems(result: LoadResult, text: string): void {
  if (result.ok) return;
  expect(result.problems.length).toBeGreaterThan(0);
  const lineCount = text.split(/\r\n|\r|\n/).length;
  for (const problem of result.problems) {
    expect(typeof problem.path).toBe('string');
    expect(problem.message.length).toBeGreaterThan(0);
    expect(Number.isInteger(problem.line) && problem.line >= 1 && problem.line <= lineCount).toBe(true);
    expect(Number.isInteger(problem.column) && problem.column >= 1).toBe(true);
  }
}

/** A spelling that is close to `key` but is none of the valid keys. */
function misspell(key: string, at: number, valid: readonly string[]): string {
  const i = at % (key.length + 1);
  const candidates = [key.slice(0, i) + 'q' + key.slice(i), key.slice(0, i) + key.slice(i + 1), `${key}s`];
  return candidates.find((c) => c !== '' && !valid.includes(c)) ?? `${key}_x`;
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The object at `key`, created if absent; a scratch object if an earlier mutation made it something else. */
function objectAt(owner: Json, key: string): Json {
  owner[key] ??= {};
  const value = owner[key];
  return isObject(value) ? value : {};
}

function firstRule(document: Json): Json {
  const tools = objectAt(document, 'tools');
  return objectAt(tools, Object.keys(tools)[0] ?? 'fuzz_tool');
}

const wrongValues = fc.constantFrom<[string, unknown]>(
  ['version', 1],
  ['version', '2'],
  ['version', null],
  ['default', 'maybe'],
  ['default', 3],
  ['default', []],
  ['hide', 'delete_*'],
  ['hide', [1]],
  ['hide', ['']],
  ['tools', []],
  ['tools', 'all'],
  ['all_tools', 5],
  ['all_tools', { limits: 'many' }],
  ['approval', { approvers: ['nobody'] }],
  ['approval', { approvers: [] }],
  ['approval', { approvers: ['web:a'], quorum: 0 }],
  ['approval', { approvers: ['web:a'], timeout: 'soon' }],
  ['name', 7],
);

const badConditions = fc.constantFrom<unknown>(
  { path: 'amount', op: 'gt', value: 1 },
  { path: 'args.amount', op: 'gtt', value: 1 },
  { path: 'args.amount', op: 'gt', value: '1' },
  { path: 'args.amount', op: 'in', value: 'usd' },
  { path: 'args.amount', op: 'regex', value: '(' },
  { path: 'args.amount', op: 'regex', value: '(x+)*' },
  { path: 'args.amount', value: 1 },
  { path: 'args.amount', op: 'eq' },
  { path: 'args.amount', op: 'eq', value: 1, valeu: 2 },
  'args.amount > 1',
  null,
);

const badLimits = fc.constantFrom<unknown>(
  { window: 'minute', max: 1 },
  { counter: 'c', window: 'fortnight', max: 1 },
  { counter: 'c', window: 'minute', max: 0 },
  { counter: 'c', window: 'minute', max: 1.5 },
  { counter: 'c', window: 'minute', max: 1, scope: 'galaxy' },
  { counter: 'c', window: 'minute', max: 1, on_exceed: 'explode' },
  { counter: 'c', window: 'minute', maxx: 1 },
  { counter: 'c', window: 'minute', max: 1, increment_from: 'amount' },
  [],
);

const mutations: fc.Arbitrary<Mutation> = fc.oneof(
  fc.nat().map((at): Mutation => (document) => {
    const keys = Object.keys(document);
    const key = keys[at % keys.length] ?? 'version';
    document[misspell(key, at, TOP_KEYS)] = document[key];
    delete document[key];
  }),
  wrongValues.map(([key, value]): Mutation => (document) => {
    document[key] = value;
  }),
  fc.constantFrom('version', 'default').map((key): Mutation => (document) => {
    delete document[key];
  }),
  fc.string({ minLength: 1, maxLength: 12 }).map((name): Mutation => (document) => {
    document[`x-${name}`] = true;
  }),
  fc.tuple(fc.constantFrom<unknown>('alow', 'hide', 'evaluate', 1, null), fc.nat()).map(([action, at]): Mutation => (document) => {
    const rule = firstRule(document);
    if (at % 2 === 0) rule.action = action;
    else rule[misspell(RULE_KEYS[at % RULE_KEYS.length] ?? 'action', at, RULE_KEYS)] = [];
  }),
  fc.tuple(badConditions, fc.constantFrom('deny_if', 'require', 'require_approval_if')).map(([condition, list]): Mutation => (document) => {
    const rule = firstRule(document);
    rule[list] = [...((rule[list] as unknown[] | undefined) ?? []), condition];
  }),
  fc.tuple(badLimits, fc.boolean()).map(([limit, shared]): Mutation => (document) => {
    const owner = shared ? objectAt(document, 'all_tools') : firstRule(document);
    owner.limits = [...((owner.limits as unknown[] | undefined) ?? []), limit];
  }),
);

type TextCorruption = (text: string) => string;
const corruptions: fc.Arbitrary<TextCorruption> = fc.oneof(
  fc.nat().map((at): TextCorruption => (text) => text.slice(0, at % text.lastIndexOf('}'))),
  fc.constant<TextCorruption>((text) => `${text.slice(0, text.lastIndexOf('}'))},}`),
  fc.constant<TextCorruption>((text) => text.replace('{', '{ "dup": 1, "dup": 1,')),
  fc.constant<TextCorruption>((text) => text.replace('{', '{ // comment\n')),
  fc.tuple(fc.nat(), fc.constantFrom('\u0001', '\u0000', '\u001f')).map(([at, c]): TextCorruption => (text) => {
    const i = at % text.length;
    return text.slice(0, i) + c + text.slice(i);
  }),
  fc.constant<TextCorruption>((text) => text.replace(/"([a-z_]+)":/, '$1:')),
);

describe('loadPolicy on malformed input', () => {
  it('refuses every mutated policy with located problems', () => {
    fc.assert(
      fc.property(fc.constantFrom(...VALID_BASES), fc.array(mutations, { minLength: 1, maxLength: 3 }), fc.boolean(), (base, steps, pretty) => {
        const document = structuredClone(base);
        for (const step of steps) step(document);
        const text = JSON.stringify(document, null, pretty ? 2 : undefined);
        expectRefused(loadPolicy(text), text);
      }),
      { numRuns: 3_000 },
    );
  });

  it('refuses every corrupted text with located problems', () => {
    fc.assert(
      fc.property(fc.constantFrom(...VALID_BASES), corruptions, (base, corrupt) => {
        const text = corrupt(JSON.stringify(base, null, 2));
        expectRefused(loadPolicy(text), text);
      }),
      { numRuns: 2_000 },
    );
  });

  it('never throws on random text or random JSON', () => {
    const inputs = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.json(), fc.jsonValue().map((v) => JSON.stringify({ version: '1', default: 'deny', tools: v })));
    fc.assert(
      fc.property(inputs, (text) => {
        const result = loadPolicy(text);
        if (!result.ok) expectLocatedProblems(result, text);
      }),
      { numRuns: 2_000 },
    );
  });

  it('never throws on values that are not text at all', () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        expect(loadPolicy(value as string).ok).toBe(false);
      }),
      { numRuns: 500 },
    );
  });
});
