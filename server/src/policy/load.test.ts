import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { loadPolicy, loadPolicyFile, type PolicyProblem } from './load.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/policies/', import.meta.url));

function problemsOf(text: string): PolicyProblem[] {
  const result = loadPolicy(text);
  if (result.ok) throw new Error('expected the policy to be refused');
  return result.problems;
}

/** Problems as "line:column path: message" for compact assertions. */
function lines(text: string): string[] {
  return problemsOf(text).map((p) => `${p.line}:${p.column} ${p.path}: ${p.message}`);
}

const policy = (body: Record<string, unknown>) => JSON.stringify({ version: '1', default: 'deny', ...body }, null, 2);

describe('loadPolicy', () => {
  describe('when the policy is valid', () => {
    it.each(['policylayer-seed.json', 'policylayer-docs-shape.json', 'policylayer-payments.json', 'design-example.json', 'airlock-extensions.json'])(
      'loads fixture %s unchanged',
      async (name) => {
        const result = await loadPolicyFile(join(FIXTURES, name));
        expect(result.ok ? [] : result.problems).toEqual([]);
      },
    );

    it('accepts metadata keys and a byte-order mark', () => {
      const text = `\uFEFF${JSON.stringify({ $schema: 'x', name: 'n', description: 'd', version: '1', default: 'allow' })}`;
      expect(loadPolicy(text).ok).toBe(true);
    });
  });

  describe('when keys are misspelled', () => {
    it('reports every problem with its position and the nearest valid word', async () => {
      const result = await loadPolicyFile(join(FIXTURES, 'invalid-misspellings.json'));
      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect(result.problems.map((p) => `${p.line}:${p.column} ${p.path}: ${p.message}`)).toEqual([
        '1:1 default: missing required key "default"',
        '3:3 defualt: unknown key "defualt"; did you mean "default"?',
        expect.stringMatching(/^6:50 tools\.create_charge\.deny_if\[0\]\.op: must be one of .*\(got "gtt"\); did you mean "gt"\?$/),
        expect.stringMatching(/^7:52 tools\.create_charge\.limits\[0\]\.window: .*\(got "minutes"\); did you mean "minute"\?$/),
        '7:74 tools.create_charge.limits[0].scop: unknown key "scop"; did you mean "scope"?',
      ]);
      expect(result.problems.every((p) => p.source?.endsWith('invalid-misspellings.json'))).toBe(true);
    });

    it.each([
      [{ tools: { t: { acton: 'deny' } } }, 'tools.t.acton', 'did you mean "action"?'],
      [{ tools: { t: { deny_iff: [] } } }, 'tools.t.deny_iff', 'did you mean "deny_if"?'],
      [{ tools: { t: { requires: [] } } }, 'tools.t.requires', 'did you mean "require"?'],
      [{ tools: { t: { action: 'alow' } } }, 'tools.t.action', 'did you mean "allow"?'],
      [{ tools: { t: { action: 'requireApproval' } } }, 'tools.t.action', 'did you mean "require_approval"?'],
      [{ tools: { t: { action: 'hide' } } }, 'tools.t.action', 'top-level "hide" array'],
      [{ tools: { t: { deny_if: [{ path: 'args.a', op: 'nqe', value: 1 }] } } }, 'tools.t.deny_if[0].op', 'did you mean "neq"?'],
      [{ tools: { t: { deny_if: [{ pth: 'args.a', op: 'eq', value: 1 }] } } }, 'tools.t.deny_if[0].pth', 'did you mean "path"?'],
      [{ tools: { t: { limits: [{ counter: 'c', window: 'hours', max: 1 }] } } }, 'tools.t.limits[0].window', 'did you mean "hour"?'],
      [{ tools: { t: { limits: [{ counter: 'c', window: 'hour', max: 1, scope: 'grnat' }] } } }, 'tools.t.limits[0].scope', 'did you mean "grant"?'],
      [{ tools: { t: { limits: [{ counter: 'c', window: 'hour', max: 1, on_exceed: 'deni' }] } } }, 'tools.t.limits[0].on_exceed', 'did you mean "deny"?'],
      [{ all_tool: {} }, 'all_tool', 'did you mean "all_tools"?'],
      [{ tools: { t: { approval: { approvers: ['slak:U024BE7LH'] } } } }, 'tools.t.approval.approvers[0]', 'did you mean "slack:"?'],
      [{ tools: { t: { approval: { approvers: ['U024BE7LH'] } } } }, 'tools.t.approval.approvers[0]', 'did you mean "slack:U024BE7LH"?'],
      [{ approval: { approvers: ['web:a'], channels: ['slak'] } }, 'approval.channels[0]', 'did you mean "slack"?'],
    ])('suggests a fix for %j', (body, path, hint) => {
      const found = problemsOf(policy(body)).find((p) => p.path === path);
      expect(found?.message).toContain(hint);
    });

    it('lists the allowed keys when nothing is close', () => {
      expect(problemsOf(policy({ zzzzzz: 1 }))[0]?.message).toMatch(/unknown key "zzzzzz" \(expected one of: .*version, default, hide/);
    });
  });

  describe('when values are wrong', () => {
    it.each([
      [{ version: 1 }, 'version', 'write it as the string "1"'],
      [{ version: '2' }, 'version', 'must be "1"'],
      [{ default: 'maybe' }, 'default', 'must be one of "allow", "deny", "require_approval"'],
      [{ hide: 'delete_*' }, 'hide', 'must be a list'],
      [{ hide: [''] }, 'hide[0]', 'must not be empty'],
      [{ hide: ['bad name'] }, 'hide[0]', 'whitespace'],
      [{ tools: [] }, 'tools', 'must be an object'],
      [{ tools: { '': {} } }, 'tools[""]', 'must not be empty'],
      [{ tools: { t: { deny_if: [{ path: 'amount', op: 'gt', value: 1 }] } } }, 'tools.t.deny_if[0].path', 'must start with "args."'],
      [{ tools: { t: { deny_if: [{ path: 'state.t.count', op: 'gt', value: 1 }] } } }, 'tools.t.deny_if[0].path', '"limits"'],
      [{ tools: { t: { deny_if: [{ path: 'args.a..b', op: 'gt', value: 1 }] } } }, 'tools.t.deny_if[0].path', 'not a valid argument path'],
      [{ tools: { t: { deny_if: [{ path: 'args.a', op: 'gt', value: '100' }] } } }, 'tools.t.deny_if[0].value', 'write it as 100 without quotes'],
      [{ tools: { t: { deny_if: [{ path: 'args.a', op: 'gt' }] } } }, 'tools.t.deny_if[0].value', 'missing required key "value"'],
      [{ tools: { t: { deny_if: [{ path: 'args.a', op: 'in', value: 'usd' }] } } }, 'tools.t.deny_if[0].value', 'needs a list'],
      [{ tools: { t: { deny_if: [{ path: 'args.a', op: 'not_in', value: [] }] } } }, 'tools.t.deny_if[0].value', 'empty list'],
      [{ tools: { t: { deny_if: [{ path: 'args.a', op: 'exists', value: 'yes' }] } } }, 'tools.t.deny_if[0].value', 'true, false, or no value'],
      [{ tools: { t: { deny_if: [{ path: 'args.a', op: 'regex', value: '(' }] } } }, 'tools.t.deny_if[0].value', 'invalid regex'],
      [{ tools: { t: { deny_if: [{ path: 'args.a', op: 'regex', value: '^(a+)+$' }] } } }, 'tools.t.deny_if[0].value', 'exponential'],
      [{ tools: { t: { deny_if: [{ path: 'args.a', op: 'regex', value: 'a'.repeat(600) }] } } }, 'tools.t.deny_if[0].value', 'maximum is 512'],
      [{ tools: { t: { deny_if: [{ path: 'args.a', op: 'regex', value: 'a', flags: 'g' }] } } }, 'tools.t.deny_if[0].flags', 'distinct letters'],
      [{ tools: { t: { deny_if: [{ path: 'args.a', op: 'eq', value: 1, flags: 'i' }] } } }, 'tools.t.deny_if[0].flags', 'only applies to op "regex"'],
      [{ tools: { t: { limits: [{ window: 'hour', max: 1 }] } } }, 'tools.t.limits[0].counter', 'missing required key "counter"'],
      [{ tools: { t: { limits: [{ counter: 'c', max: 1 }] } } }, 'tools.t.limits[0].window', 'missing required key "window"'],
      [{ tools: { t: { limits: [{ counter: 'c', window: 0, max: 1 }] } } }, 'tools.t.limits[0].window', 'whole number of seconds'],
      [{ tools: { t: { limits: [{ counter: 'c', window: '60', max: 1 }] } } }, 'tools.t.limits[0].window', 'write it as the number 60'],
      [{ tools: { t: { limits: [{ counter: 'c', window: '400d', max: 1 }] } } }, 'tools.t.limits[0].window', 'longer than the maximum'],
      [{ tools: { t: { limits: [{ counter: 'c', window: 'hour', max: 0 }] } } }, 'tools.t.limits[0].max', 'greater than 0'],
      [{ tools: { t: { limits: [{ counter: 'c', window: 'hour', max: 2.5 }] } } }, 'tools.t.limits[0].max', 'whole number'],
      [{ tools: { t: { limits: [{ counter: 'a|b', window: 'hour', max: 1 }] } } }, 'tools.t.limits[0].counter', 'letters, digits'],
      [{ tools: { t: { limits: [{ counter: 'c', window: 'hour', max: 1, increment_from: 'amount' }] } } }, 'tools.t.limits[0].increment_from', 'must start with "args."'],
      [{ approval: { approvers: [] } }, 'approval.approvers', 'at least 1 entry'],
      [{ approval: { approvers: ['slack:nobody'] } }, 'approval.approvers[0]', 'not a Slack user id'],
      [{ approval: { approvers: ['web:a', 'web:a'] } }, 'approval.approvers[1]', 'listed twice'],
      [{ approval: { approvers: ['web:a'], quorum: 2 } }, 'approval.quorum', 'can never be reached'],
      [{ approval: { approvers: ['web:a'], timeout: '15' } }, 'approval.timeout', 'write it as the number 15'],
      [{ approval: { approvers: ['web:a'], on_timeout: 'allow' } }, 'approval.on_timeout', 'must be one of "reject", "approve"'],
    ])('refuses %j', (body, path, text) => {
      const problems = problemsOf(policy(body));
      expect(problems.map((p) => p.path)).toContain(path);
      expect(problems.find((p) => p.path === path)?.message).toContain(text);
    });

    it('allows a group to make a larger quorum reachable', () => {
      expect(loadPolicy(policy({ approval: { approvers: ['group:oncall'], quorum: 3 } })).ok).toBe(true);
    });
  });

  describe('when parts of the policy contradict each other', () => {
    it.each([
      [{ default: 'require_approval' }, 'default', 'needs approvers'],
      [{ tools: { t: { action: 'require_approval' } } }, 'tools.t.action', 'nobody is named to approve'],
      [{ tools: { t: { require_approval_if: [{ path: 'args.a', op: 'exists' }] } } }, 'tools.t.require_approval_if', 'nobody is named to approve'],
      [{ tools: { t: { limits: [{ counter: 'c', window: 1, max: 1, on_exceed: 'require_approval' }] } } }, 'tools.t.limits[0].on_exceed', 'nobody is named to approve'],
      [{ default: 'allow', all_tools: { limits: [{ counter: 'c', window: 1, max: 1, on_exceed: 'require_approval' }] } }, 'all_tools.limits[0].on_exceed', 'top-level "approval"'],
      [{ hide: ['a', 'a'] }, 'hide[1]', 'listed twice'],
      [{ tools: { a: { limits: [{ counter: 'c', window: 'minute', max: 1 }] }, b: { limits: [{ counter: 'c', window: 'hour', max: 1 }] } } }, 'tools.b.limits[0].window', 'same window'],
      [{ tools: { a: { limits: [{ counter: 'c', window: 60, max: 1 }] }, b: { limits: [{ counter: 'c', window: '1m', max: 1, scope: 'global' }] } } }, 'tools.b.limits[0].scope', 'same scope'],
      [{ tools: { a: { limits: [{ counter: 'c', window: 1, max: 1 }, { counter: 'c', window: 1, max: 2 }] } } }, 'tools.a.limits[1].counter', 'cannot count a counter twice'],
      [{ all_tools: { limits: [{ counter: 'c', window: 1, max: 5 }] }, tools: { a: { limits: [{ counter: 'c', window: 1, max: 1 }] } } }, 'tools.a.limits[0].counter', 'all_tools.limits[0]'],
    ])('refuses %j', (body, path, text) => {
      const problems = problemsOf(policy(body));
      expect(problems.find((p) => p.path === path)?.message).toContain(text);
    });

    it('accepts a counter shared across tools when window and scope agree', () => {
      const body = { tools: { a: { limits: [{ counter: 'c', window: 60, max: 1 }] }, b: { limits: [{ counter: 'c', window: '1m', max: 9 }] } } };
      expect(loadPolicy(policy(body)).ok).toBe(true);
    });

    it('accepts an approval-free policy when all_tools escalation only reaches rules with approvers', () => {
      const body = {
        all_tools: { limits: [{ counter: 'c', window: 1, max: 1, on_exceed: 'require_approval' }] },
        tools: { a: { approval: { approvers: ['web:a'] } }, b: { action: 'deny' } },
      };
      expect(loadPolicy(policy(body)).ok).toBe(true);
    });
  });

  describe('when the text is not a valid JSON policy', () => {
    it.each([
      ['', '1:1 : JSON syntax error: expected a value'],
      ['{\n  "version": "1",\n  "default": "deny",\n}', '4:1 : JSON syntax error: trailing commas are not allowed in a policy (it is strict JSON)'],
      ['{ "version": "1" // note\n}', '1:18 : JSON syntax error: comments are not allowed in a policy (it is strict JSON)'],
      ['{ "version": "1",\n  "default" "deny" }', '2:13 : JSON syntax error: expected ":"'],
      ['{ "version": "1", "default": "deny" } x', '1:39 : JSON syntax error: unexpected character'],
      ['[]', '1:1 : a policy must be a JSON object (got array)'],
      ['"policy"', '1:1 : a policy must be a JSON object (got string)'],
    ])('refuses %j with a position', (text, expected) => {
      expect(lines(text)[0]).toBe(expected);
    });

    it('refuses duplicate keys, which JSON readers resolve differently', () => {
      expect(lines('{ "version": "1", "default": "allow",\n  "default": "deny" }')).toEqual(['2:3 default: duplicate key "default"; JSON readers disagree about which one wins']);
    });

    it('refuses __proto__ keys anywhere', () => {
      expect(lines('{ "version": "1", "default": "deny", "tools": { "__proto__": {} } }')).toEqual([
        '1:49 tools.__proto__: "__proto__" is not allowed as a key',
      ]);
    });

    it('refuses absurd nesting without overflowing the stack', () => {
      const deep = `{"version":"1","default":"deny","description":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
      expect(problemsOf(deep).length).toBeGreaterThan(0);
    });

    it('refuses text that is not a string', () => {
      expect(loadPolicy(42 as unknown as string)).toMatchObject({ ok: false, problems: [{ line: 1, column: 1 }] });
    });
  });

  describe('loadPolicyFile', () => {
    it('turns a missing file into a problem', async () => {
      const result = await loadPolicyFile('/nonexistent/policy.json');
      expect(result).toEqual({ ok: false, problems: [{ path: '', line: 1, column: 1, message: 'cannot read policy file: no such file', source: '/nonexistent/policy.json' }] });
    });

    it('turns a directory into a problem', async () => {
      const result = await loadPolicyFile(FIXTURES);
      expect(result.ok).toBe(false);
    });

    it('reads a file written moments ago', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'airlock-policy-'));
      await writeFile(join(dir, 'p.json'), policy({}));
      expect((await loadPolicyFile(join(dir, 'p.json'))).ok).toBe(true);
      expect(await readdir(dir)).toEqual(['p.json']);
    });
  });
});
