import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { runPolicyCommand, splitToolName } from './policy-command.js';

const fixture = (name: string) => fileURLToPath(new URL(`../../../test/fixtures/policies/${name}`, import.meta.url));

async function run(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runPolicyCommand(argv, { stdout: (s) => out.push(s), stderr: (s) => err.push(s) });
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

describe('airlock policy validate', () => {
  it('reports a valid policy with its tool count and default', async () => {
    const file = fixture('design-example.json');
    expect(await run('validate', file)).toEqual({ code: 0, stdout: `${file}: valid (4 tools, default deny)`, stderr: '' });
  });

  it('says "1 tool" for one', async () => {
    const file = fixture('policylayer-seed.json');
    expect((await run('validate', file)).stdout).toBe(`${file}: valid (1 tool, default deny)`);
  });

  it('prints every problem as FILE:LINE:COL path: message and exits 1', async () => {
    const file = fixture('invalid-misspellings.json');
    const { code, stdout, stderr } = await run('validate', file);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    const lines = stderr.split('\n');
    expect(lines).toEqual([
      `${file}:1:1 default: missing required key "default"`,
      `${file}:3:3 defualt: unknown key "defualt"; did you mean "default"?`,
      expect.stringMatching(new RegExp(`^${file}:6:50 tools\\.create_charge\\.deny_if\\[0\\]\\.op: .*did you mean "gt"\\?$`)),
      expect.stringMatching(new RegExp(`^${file}:7:52 tools\\.create_charge\\.limits\\[0\\]\\.window: .*did you mean "minute"\\?$`)),
      `${file}:7:74 tools.create_charge.limits[0].scop: unknown key "scop"; did you mean "scope"?`,
      `${file}: invalid (5 problems)`,
    ]);
  });

  it('reports an unreadable file as a problem, exit 1', async () => {
    const { code, stderr } = await run('validate', '/nonexistent/policy.json');
    expect(code).toBe(1);
    expect(stderr).toContain('/nonexistent/policy.json:1:1 (document): cannot read policy file: no such file');
  });

  it.each([[['validate']], [['validate', 'a.json', 'b.json']], [['validate', '--strict', 'a.json']], [['explain', 'a.json']], [[]]])('rejects the command line %j with exit 2', async (argv) => {
    const { code, stderr } = await run(...argv);
    expect(code).toBe(2);
    expect(stderr).toContain('usage:');
  });

  it('prints help with exit 0', async () => {
    expect(await run('--help')).toMatchObject({ code: 0, stdout: expect.stringContaining('airlock policy check FILE --tool NAME') });
  });
});

describe('airlock policy check', () => {
  it('prints the decision, rule, reason and limits', async () => {
    const { code, stdout } = await run('check', fixture('policylayer-seed.json'), '--tool', 'support__add_communication_to_case', '--args', '{"case_id":"C-1"}', '--grant', 'alice');
    expect(code).toBe(0);
    expect(stdout.split('\n')).toEqual([
      'decision: allow',
      'rule:     /tools/add_communication_to_case',
      'reason:   Allowed by the policy rule "add_communication_to_case".',
      'limits:   add_communication_to_case_rate|grant:alice: at most 30 per 1m, this call costs 1, then deny (/tools/add_communication_to_case/limits/0)',
    ]);
  });

  it('prints denials with their rule pointer, still exit 0', async () => {
    const { code, stdout } = await run('check', fixture('design-example.json'), '--tool', 'stripe__create_charge', '--args', '{"amount": 250000}');
    expect(code).toBe(0);
    expect(stdout).toContain('decision: deny');
    expect(stdout).toContain('rule:     /tools/create_charge/deny_if/0');
    expect(stdout).toContain('limits:   none');
  });

  it('prints the approval for require_approval', async () => {
    const { stdout } = await run('check', fixture('design-example.json'), '--tool', 'create_charge', '--args', '{"amount": 10}');
    expect(stdout).toContain('decision: require_approval');
    expect(stdout).toContain('approval: slack:U024BE7LH, group:payments-oncall; quorum 1; timeout 15m, then reject; via all configured channels');
  });

  it('uses --server, --agent and --session, and defaults --grant to local', async () => {
    const held = await run('check', fixture('airlock-extensions.json'), '--tool', 'close_case', '--server', 'support', '--agent', 'bot');
    expect(held.stdout).toContain('rule:     /tools/support__close_case/action');
    expect(held.stdout).toContain('agent_calls|agent:bot');
    const listed = await run('check', fixture('airlock-extensions.json'), '--tool', 'support__list_cases', '--session', 's1');
    expect(listed.stdout).toContain('rule:     /tools/support__*/action');
    expect(listed.stdout).toContain('agent_calls|grant:local');
    expect(listed.stdout).toContain('support_session_calls|session:s1');
  });

  it('prints JSON with --json', async () => {
    const { stdout } = await run('check', fixture('policylayer-seed.json'), '--tool', 'other', '--json');
    expect(JSON.parse(stdout)).toEqual({ action: 'deny', rule: '/default', reason: expect.any(String), limits: [] });
  });

  it('prints the problems of an invalid policy, exit 1', async () => {
    const { code, stderr } = await run('check', fixture('invalid-misspellings.json'), '--tool', 'x');
    expect(code).toBe(1);
    expect(stderr).toContain('did you mean "default"?');
  });

  it.each([
    [['--args', '{}'], '--tool NAME is required'],
    [['--tool', 'x', '--args', '{bad'], '--args is not valid JSON'],
    [['--tool', 'x', '--args', '[1]'], '--args must be a JSON object'],
    [['--tool', 'x', '--grnat', 'g'], "Unknown option '--grnat'"],
    [['--tool'], "Option '--tool <value>' argument missing"],
  ])('rejects %j with a clear message, exit 2', async (flags, message) => {
    const { code, stderr } = await run('check', fixture('policylayer-seed.json'), ...flags);
    expect(code).toBe(2);
    expect(stderr).toContain(message);
  });
});

describe('splitToolName', () => {
  it.each([
    ['github__create_issue', undefined, { server: 'github', tool: 'create_issue' }],
    ['a__b__c', undefined, { server: 'a', tool: 'b__c' }],
    ['create_issue', undefined, { server: '', tool: 'create_issue' }],
    ['__x', undefined, { server: '', tool: '__x' }],
    ['github__create_issue', 'gh', { server: 'gh', tool: 'github__create_issue' }],
  ])('%s with --server %s', (name, server, expected) => {
    expect(splitToolName(name, server)).toEqual(expected);
  });
});
