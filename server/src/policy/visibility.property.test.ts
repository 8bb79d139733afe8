/**
 * tools/list and tools/call must agree: a tool is listed iff calling it is not answered "hide". Checked on
 * random policies against an independent, regex-based reading of DESIGN.md §4 precedence.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { evaluate, isHidden, resolveRule } from './evaluate.js';
import { loadPolicy } from './load.js';
import { toPointer } from './paths.js';

// A tiny alphabet so that random names, globs and hide entries collide often.
const bare = fc.stringMatching(/^[ab_]{1,4}$/);
const server = fc.constantFrom('gh', 'gl');
const pattern = fc.oneof(
  bare,
  bare.map((n) => `${n}*`),
  bare.map((n) => `*${n}`),
  fc.tuple(bare, bare).map(([a, b]) => `${a}*${b}`),
  fc.constant('*'),
  fc.tuple(server, bare).map(([s, n]) => `${s}__${n}`),
  server.map((s) => `${s}__*`),
);
const documents = fc.record({
  version: fc.constant('1'),
  default: fc.constantFrom('allow', 'deny'),
  hide: fc.uniqueArray(pattern, { maxLength: 4 }),
  tools: fc.dictionary(pattern, fc.record({ action: fc.constantFrom('allow', 'deny') }, { requiredKeys: [] }), { maxKeys: 8 }),
});
const calls = fc.array(fc.record({ server: fc.constantFrom('', 'gh', 'gl'), tool: fc.oneof(bare, fc.tuple(server, bare).map(([s, n]) => `${s}__${n}`)) }), {
  minLength: 1,
  maxLength: 12,
});

function globRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.split('*').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}

function namesOf(server: string, tool: string): string[] {
  return server === '' ? [tool] : [`${server}__${tool}`, tool];
}

/** DESIGN.md §4 precedence, written independently of compile.ts. */
function expectedRule(document: { tools: Record<string, unknown> }, server: string, tool: string): string {
  const names = namesOf(server, tool);
  const keys = Object.keys(document.tools);
  for (const name of names) if (keys.includes(name)) return toPointer(['tools', name]);
  const globs = keys
    .map((key, order) => ({ key, order, literal: key.replaceAll('*', '').length, stars: key.split('*').length - 1 }))
    .filter(({ key }) => key.includes('*') && names.some((n) => globRegExp(key).test(n)))
    .sort((a, b) => b.literal - a.literal || a.stars - b.stars || a.order - b.order);
  return globs[0] ? toPointer(['tools', globs[0].key]) : '/default';
}

describe('tools/list visibility', () => {
  it('a tool is listed iff its call is not hidden, and both follow DESIGN.md §4', () => {
    fc.assert(
      fc.property(documents, calls, (document, toolList) => {
        const loaded = loadPolicy(JSON.stringify(document));
        if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
        const policy = loaded.policy;
        const listed = toolList.filter(({ server, tool }) => !isHidden(policy, server, tool));
        for (const { server, tool } of toolList) {
          const decision = evaluate(policy, { caller: { grant: 'g' }, server, tool, args: {} });
          expect(listed.some((t) => t.server === server && t.tool === tool)).toBe(decision.action !== 'hide');

          const hiddenBy = document.hide.findIndex((h) => namesOf(server, tool).some((n) => globRegExp(h).test(n)));
          expect(isHidden(policy, server, tool)).toBe(hiddenBy >= 0);
          if (hiddenBy >= 0) {
            expect(decision.rule).toBe(`/hide/${hiddenBy}`);
          } else {
            const governing = expectedRule(document, server, tool);
            expect(resolveRule(policy, server, tool)).toBe(governing);
            expect([governing, `${governing}/action`]).toContain(decision.rule);
          }
        }
      }),
      { numRuns: 2_000 },
    );
  });
});
