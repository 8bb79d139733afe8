import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import type { CompiledPolicy } from './compile.js';
import { evaluate, isHidden, resolveRule, type ApprovalSpec, type CallInput, type PolicyDecision } from './evaluate.js';
import { loadPolicy, loadPolicyFile } from './load.js';

function compile(document: unknown): CompiledPolicy {
  const result = loadPolicy(JSON.stringify(document, null, 2));
  if (!result.ok) throw new Error(`test policy is invalid: ${JSON.stringify(result.problems)}`);
  return result.policy;
}

async function fixture(name: string): Promise<CompiledPolicy> {
  const result = await loadPolicyFile(fileURLToPath(new URL(`../../../test/fixtures/policies/${name}`, import.meta.url)));
  if (!result.ok) throw new Error(`fixture ${name} is invalid: ${JSON.stringify(result.problems)}`);
  return result.policy;
}

const APPROVAL = { approvers: ['slack:U024BE7LH'] };
const EXPECTED_APPROVAL: ApprovalSpec = { approvers: ['slack:U024BE7LH'], quorum: 1, timeoutMs: 900_000, onTimeout: 'reject', channels: [] };

interface Case {
  name: string;
  call: Partial<CallInput> & { tool: string };
  action: PolicyDecision['action'];
  rule: string;
  /** Substring of the reason, when the text matters. */
  reason?: string;
  limits?: Partial<PolicyDecision['limits'][number]>[];
  approval?: unknown;
}

function check(policy: () => CompiledPolicy | Promise<CompiledPolicy>, cases: Case[]): void {
  it.each(cases)('$name', async ({ call, action, rule, reason, limits, approval }) => {
    const compiled = await policy();
    const decision = evaluate(compiled, { caller: { grant: 'alice' }, server: 'srv', args: {}, ...call });
    expect({ action: decision.action, rule: decision.rule }).toEqual({ action, rule });
    if (reason !== undefined) expect(decision.reason).toContain(reason);
    expect(decision.reason.length).toBeGreaterThan(0);
    if (limits !== undefined) expect(decision.limits).toEqual(limits.map((l) => expect.objectContaining(l)));
    if (action === 'deny' || action === 'hide') expect(decision.limits).toEqual([]);
    if (action === 'require_approval') expect(decision.approval).toEqual(approval);
    else expect(decision).not.toHaveProperty('approval');
  });
}

describe('evaluate', () => {
  describe('PolicyLayer seed: add_communication_to_case at 30/minute per grant under default deny', () => {
    check(() => fixture('policylayer-seed.json'), [
      {
        name: 'allows the listed tool and asks for its limit, keyed by grant',
        call: { server: 'support', tool: 'add_communication_to_case', args: { case_id: 'C-1', body: 'hi' } },
        action: 'allow',
        rule: '/tools/add_communication_to_case',
        limits: [{ key: 'add_communication_to_case_rate|grant:alice', counter: 'add_communication_to_case_rate', windowMs: 60_000, max: 30, cost: 1, onExceed: 'deny', rule: '/tools/add_communication_to_case/limits/0' }],
      },
      { name: 'denies any other tool by default', call: { tool: 'close_case' }, action: 'deny', rule: '/default', reason: 'default deny' },
      {
        name: 'keys the limit by the calling grant',
        call: { caller: { grant: 'bob', agent: 'bot' }, tool: 'add_communication_to_case' },
        action: 'allow',
        rule: '/tools/add_communication_to_case',
        limits: [{ key: 'add_communication_to_case_rate|grant:bob' }],
      },
    ]);
  });

  describe('PolicyLayer docs shape (empty require, deny_if, limits; hide)', () => {
    check(() => fixture('policylayer-docs-shape.json'), [
      { name: 'a tool listed with empty lists is allowed', call: { tool: 'create_charge', args: { amount: 1 } }, action: 'allow', rule: '/tools/create_charge', limits: [] },
      { name: 'hide removes a tool', call: { tool: 'delete_account' }, action: 'hide', rule: '/hide/0' },
      { name: 'unlisted tools fall to default deny', call: { tool: 'list_customers' }, action: 'deny', rule: '/default' },
    ]);
  });

  describe('PolicyLayer payments example (default allow, require, deny_if, regex)', () => {
    check(() => fixture('policylayer-payments.json'), [
      { name: 'default allow still counts all_tools limits', call: { tool: 'get_balance' }, action: 'allow', rule: '/default', limits: [{ key: 'all_calls|grant:alice', windowMs: 3_600_000, max: 1000 }] },
      { name: 'refund without a reason fails require[0]', call: { tool: 'create_refund', args: { amount: 100 } }, action: 'deny', rule: '/tools/create_refund/require/0', reason: 'args.reason is present' },
      { name: 'refund with a null reason fails require[0]', call: { tool: 'create_refund', args: { amount: 100, reason: null } }, action: 'deny', rule: '/tools/create_refund/require/0' },
      { name: 'refund over the cap fails require[1]', call: { tool: 'create_refund', args: { amount: 9000, reason: 'dup' } }, action: 'deny', rule: '/tools/create_refund/require/1' },
      { name: 'refund meeting every require is allowed', call: { tool: 'create_refund', args: { amount: 100, reason: 'dup' } }, action: 'allow', rule: '/tools/create_refund', limits: [{ counter: 'all_calls' }, { counter: 'refunds_per_minute' }] },
      { name: 'charge over 10000 hits deny_if[0]', call: { tool: 'create_charge', args: { amount: 10001, currency: 'usd' } }, action: 'deny', rule: '/tools/create_charge/deny_if/0', reason: 'args.amount > 10000' },
      { name: 'charge amount as a numeric string is still compared as a number', call: { tool: 'create_charge', args: { amount: '10001', currency: 'usd' } }, action: 'deny', rule: '/tools/create_charge/deny_if/0' },
      { name: 'charge in another currency hits deny_if[1]', call: { tool: 'create_charge', args: { amount: 10, currency: 'gbp' } }, action: 'deny', rule: '/tools/create_charge/deny_if/1' },
      { name: 'charge within bounds is allowed', call: { tool: 'create_charge', args: { amount: 10, currency: 'eur' } }, action: 'allow', rule: '/tools/create_charge' },
      { name: 'regex deny_if matches test domains', call: { tool: 'update_customer', args: { email: 'a@test.com' } }, action: 'deny', rule: '/tools/update_customer/deny_if/0' },
      { name: 'regex deny_if lets other domains through', call: { tool: 'update_customer', args: { email: 'a@corp.io' } }, action: 'allow', rule: '/tools/update_customer' },
      { name: 'hide glob removes a tool even under default allow', call: { tool: 'create_webhook' }, action: 'hide', rule: '/hide/1' },
    ]);
  });

  describe('DESIGN.md §4 example', () => {
    check(() => fixture('design-example.json'), [
      { name: 'charge over 100000 is denied before approval', call: { server: 'stripe', tool: 'create_charge', args: { amount: 100_001 } }, action: 'deny', rule: '/tools/create_charge/deny_if/0' },
      {
        name: 'other charges wait for approval with default quorum and timeout',
        call: { server: 'stripe', tool: 'create_charge', args: { amount: 5000 } },
        action: 'require_approval',
        rule: '/tools/create_charge/action',
        limits: [{ key: 'all_calls|grant:alice', rule: '/all_tools/limits/0' }],
        approval: { approvers: ['slack:U024BE7LH', 'group:payments-oncall'], quorum: 1, timeoutMs: 900_000, onTimeout: 'reject', channels: [] },
      },
      { name: 'github__* allows every tool on the github server', call: { server: 'github', tool: 'create_issue' }, action: 'allow', rule: '/tools/github__*/action', limits: [{ counter: 'all_calls' }] },
      { name: 'github__* does not match the same tool on another server', call: { server: 'gitlab', tool: 'create_issue' }, action: 'deny', rule: '/default' },
      { name: 'github__* matches a prefixed bare name when the server is unknown', call: { server: '', tool: 'github__create_issue' }, action: 'allow', rule: '/tools/github__*/action' },
      {
        name: 'add_communication_to_case counts both all_tools and its own limit',
        call: { server: 'support', tool: 'add_communication_to_case' },
        action: 'allow',
        rule: '/tools/add_communication_to_case',
        limits: [{ counter: 'all_calls', max: 120 }, { counter: 'add_communication_to_case_rate', max: 30 }],
      },
      { name: 'delete_service is hidden by delete_* (hide wins over its deny rule)', call: { tool: 'delete_service' }, action: 'hide', rule: '/hide/0' },
      { name: 'unnamed tools are denied by default', call: { tool: 'list_repos' }, action: 'deny', rule: '/default' },
    ]);
  });

  describe('precedence: qualified exact, bare exact, longest glob, default', () => {
    const policy = () =>
      compile({
        version: '1',
        default: 'allow',
        approval: APPROVAL,
        tools: {
          '*': { action: 'deny', reason: 'catch-all' },
          'create_*': { action: 'require_approval' },
          '*_issue': { action: 'deny' },
          'ab*': { action: 'allow' },
          '*bc': { action: 'deny' },
          'create_issue': { action: 'allow' },
          'github__create_issue': { action: 'deny', reason: 'Use the GitHub UI.' },
          'github__*': {},
        },
      });
    check(policy, [
      { name: 'server-qualified exact key wins', call: { server: 'github', tool: 'create_issue' }, action: 'deny', rule: '/tools/github__create_issue/action', reason: 'Use the GitHub UI.' },
      { name: 'bare exact key wins over globs', call: { server: 'gitlab', tool: 'create_issue' }, action: 'allow', rule: '/tools/create_issue/action' },
      { name: 'the glob with most literal characters wins', call: { server: 'gitlab', tool: 'create_pr' }, action: 'require_approval', rule: '/tools/create_*/action', approval: EXPECTED_APPROVAL },
      { name: 'a qualified glob outranks a shorter bare glob', call: { server: 'github', tool: 'create_pr' }, action: 'allow', rule: '/tools/github__*' },
      { name: 'a suffix glob applies when longer ones do not match', call: { server: 'gitlab', tool: 'close_issue' }, action: 'deny', rule: '/tools/*_issue/action' },
      { name: 'equally specific globs: the first in the file wins', call: { server: 'x', tool: 'abc' }, action: 'allow', rule: '/tools/ab*/action' },
      { name: '"*" catches the rest before the default', call: { server: 'x', tool: 'zzz' }, action: 'deny', rule: '/tools/*/action', reason: 'catch-all' },
    ]);
    it('resolveRule names the governing key for the console', async () => {
      const compiled = policy();
      expect(resolveRule(compiled, 'github', 'create_issue')).toBe('/tools/github__create_issue');
      expect(resolveRule(compiled, 'gitlab', 'create_pr')).toBe('/tools/create_*');
      expect(resolveRule(compile({ version: '1', default: 'deny' }), 'x', 'y')).toBe('/default');
      expect(resolveRule(compile({ version: '1', default: 'deny', hide: ['y'] }), 'x', 'y')).toBe('/hide/0');
    });
  });

  describe('hide', () => {
    const policy = () =>
      compile({ version: '1', default: 'allow', hide: ['secret_*', 'github__delete_repo', 'drop_table', 'secret_key'], tools: { secret_key: { action: 'allow' }, drop_table: {} } });
    check(policy, [
      { name: 'a hidden tool is hidden whatever its rule says', call: { tool: 'secret_key' }, action: 'hide', rule: '/hide/0' },
      { name: 'an exact bare entry hides on every server', call: { server: 'db', tool: 'drop_table' }, action: 'hide', rule: '/hide/2' },
      { name: 'a qualified entry hides on its server', call: { server: 'github', tool: 'delete_repo' }, action: 'hide', rule: '/hide/1' },
      { name: 'a qualified entry does not hide on another server', call: { server: 'gitlab', tool: 'delete_repo' }, action: 'allow', rule: '/default' },
    ]);
    it('"*" hides everything', () => {
      const compiled = compile({ version: '1', default: 'allow', hide: ['*'] });
      expect(isHidden(compiled, 'a', 'b')).toBe(true);
      expect(evaluate(compiled, { caller: { grant: 'g' }, server: '', tool: 'x', args: {} }).action).toBe('hide');
    });
  });

  describe('every op, in deny_if and require', () => {
    const ops: [string, unknown, Record<string, unknown>, Record<string, unknown>][] = [
      // op, value, args where the condition holds, args where it does not
      ['eq', 'prod', { v: 'prod' }, { v: 'dev' }],
      ['eq', 5, { v: '5' }, { v: 6 }],
      ['eq', { a: [1, 2] }, { v: { a: [1, 2] } }, { v: { a: [2, 1] } }],
      ['neq', 'prod', { v: 'dev' }, { v: 'prod' }],
      ['in', ['usd', 'eur'], { v: 'eur' }, { v: 'gbp' }],
      ['not_in', ['usd', 'eur'], { v: 'gbp' }, { v: 'usd' }],
      ['lt', 10, { v: 9 }, { v: 10 }],
      ['lte', 10, { v: 10 }, { v: 11 }],
      ['gt', 10, { v: 11 }, { v: 10 }],
      ['gte', 10, { v: 10 }, { v: 9.5 }],
      ['regex', '^feat/', { v: 'feat/x' }, { v: 'fix/feat/x' }],
      ['contains', 'DROP', { v: 'x; DROP TABLE' }, { v: 'select' }],
      ['contains', 'admin', { v: ['user', 'admin'] }, { v: ['user'] }],
      ['exists', true, { v: 0 }, {}],
      ['exists', false, {}, { v: 'x' }],
    ];
    for (const [op, value, holds, fails] of ops) {
      const policy = compile({
        version: '1',
        default: 'deny',
        tools: { d: { deny_if: [{ path: 'args.v', op, value }] }, r: { require: [{ path: 'args.v', op, value }] } },
      });
      const run = (tool: string, args: Record<string, unknown>) => evaluate(policy, { caller: { grant: 'g' }, server: '', tool, args }).action;
      it(`${op} ${JSON.stringify(value)}: deny_if fires and require passes when it holds`, () => {
        expect([run('d', holds), run('r', holds)]).toEqual(['deny', 'allow']);
      });
      it(`${op} ${JSON.stringify(value)}: deny_if is quiet and require denies when it does not`, () => {
        expect([run('d', fails), run('r', fails)]).toEqual(['allow', 'deny']);
      });
    }
    it('a missing or mistyped argument fails require and does not fire deny_if (fail-closed via require)', () => {
      const policy = compile({
        version: '1',
        default: 'deny',
        tools: { d: { deny_if: [{ path: 'args.n', op: 'gt', value: 1 }] }, r: { require: [{ path: 'args.n', op: 'lte', value: 1 }] } },
      });
      const run = (tool: string, args: Record<string, unknown>) => evaluate(policy, { caller: { grant: 'g' }, server: '', tool, args }).action;
      for (const args of [{}, { n: 'many' }, { n: null }, { n: [5] }]) expect([run('d', args), run('r', args)]).toEqual(['allow', 'deny']);
    });
    it('paths reach into nested objects and arrays in both spellings', () => {
      const policy = compile({
        version: '1',
        default: 'allow',
        tools: { t: { deny_if: [{ path: 'args.items[1].sku', op: 'eq', value: 'x' }, { path: 'args.items.0.sku', op: 'eq', value: 'y' }] } },
      });
      const run = (args: Record<string, unknown>) => evaluate(policy, { caller: { grant: 'g' }, server: '', tool: 't', args }).rule;
      expect(run({ items: [{ sku: 'a' }, { sku: 'x' }] })).toBe('/tools/t/deny_if/0');
      expect(run({ items: [{ sku: 'y' }] })).toBe('/tools/t/deny_if/1');
      expect(run({ items: { 1: { sku: 'x' } } })).toBe('/tools/t/deny_if/0');
      expect(run({ items: 'x' })).toBe('/tools/t');
    });
    it('paths never read inherited properties', () => {
      const policy = compile({ version: '1', default: 'allow', tools: { t: { require: [{ path: 'args.constructor', op: 'exists' }] } } });
      expect(evaluate(policy, { caller: { grant: 'g' }, server: '', tool: 't', args: {} }).action).toBe('deny');
    });
    it('regex flags apply', () => {
      const policy = compile({ version: '1', default: 'allow', tools: { t: { deny_if: [{ path: 'args.q', op: 'regex', value: 'drop\\s+table', flags: 'i' }] } } });
      expect(evaluate(policy, { caller: { grant: 'g' }, server: '', tool: 't', args: { q: 'DROP  TABLE x' } }).action).toBe('deny');
    });
  });

  describe('order inside a rule', () => {
    const policy = () =>
      compile({
        version: '1',
        default: 'deny',
        approval: APPROVAL,
        tools: {
          t: {
            reason: 'Tool-level reason.',
            deny_if: [{ path: 'args.a', op: 'eq', value: 1 }, { path: 'args.b', op: 'eq', value: 1, reason: 'b may not be 1.' }],
            require: [{ path: 'args.c', op: 'exists' }, { path: 'args.d', op: 'exists' }],
            require_approval_if: [{ path: 'args.e', op: 'eq', value: 1 }],
          },
          off: { action: 'deny', deny_if: [{ path: 'args.a', op: 'eq', value: 1 }] },
          held: { action: 'require-approval', approval: { approvers: ['web:ops'], quorum: 1, timeout: 90, on_timeout: 'approve', channels: ['web'] } },
        },
      });
    check(policy, [
      { name: 'deny_if wins over everything after it, first match first', call: { tool: 't', args: { a: 1, b: 1, e: 1 } }, action: 'deny', rule: '/tools/t/deny_if/0', reason: 'Tool-level reason.' },
      { name: 'a condition reason wins over the tool reason', call: { tool: 't', args: { b: 1 } }, action: 'deny', rule: '/tools/t/deny_if/1', reason: 'b may not be 1.' },
      { name: 'the first failing require denies', call: { tool: 't', args: { c: 1, e: 1 } }, action: 'deny', rule: '/tools/t/require/1' },
      { name: 'require_approval_if holds the call after require passes', call: { tool: 't', args: { c: 1, d: 1, e: 1 } }, action: 'require_approval', rule: '/tools/t/require_approval_if/0', approval: EXPECTED_APPROVAL },
      { name: 'then the rule action applies', call: { tool: 't', args: { c: 1, d: 1 } }, action: 'allow', rule: '/tools/t' },
      { name: 'action deny ignores its conditions', call: { tool: 'off', args: { a: 2 } }, action: 'deny', rule: '/tools/off/action' },
      {
        name: 'require-approval is accepted and its own approval is used',
        call: { tool: 'held' },
        action: 'require_approval',
        rule: '/tools/held/action',
        approval: { approvers: ['web:ops'], quorum: 1, timeoutMs: 90_000, onTimeout: 'approve', channels: ['web'] },
      },
    ]);
  });

  describe('defaults', () => {
    it('default require_approval uses the top-level approval and all_tools limits', () => {
      const policy = compile({ version: '1', default: 'require_approval', approval: APPROVAL, all_tools: { limits: [{ counter: 'c', window: 'second', max: 1 }] } });
      const decision = evaluate(policy, { caller: { grant: 'g' }, server: 's', tool: 't', args: {} });
      expect(decision).toEqual({
        action: 'require_approval',
        rule: '/default',
        reason: expect.any(String),
        limits: [{ key: 'c|grant:g', counter: 'c', windowMs: 1_000, max: 1, cost: 1, onExceed: 'deny', rule: '/all_tools/limits/0' }],
        approval: EXPECTED_APPROVAL,
      });
    });
  });

  describe('limits', () => {
    const policy = () =>
      compile({
        version: '1',
        default: 'deny',
        approval: APPROVAL,
        all_tools: { limits: [{ counter: 'per_agent', window: 30, max: 100, scope: 'agent' }] },
        tools: {
          charge: { limits: [{ counter: 'spend', window: '1d', max: 100_000, scope: 'global', increment_from: 'args.amount', on_exceed: 'require_approval' }] },
          refund: { limits: [{ counter: 'spend', window: 'day', max: 50_000, scope: 'global', increment_from: 'args.cents' }] },
          chat: { limits: [{ counter: 'msgs', window: '5m', max: 10, scope: 'session' }] },
        },
      });
    check(policy, [
      {
        name: 'increment_from costs the argument and on_exceed carries the approvers',
        call: { caller: { grant: 'g', agent: 'bot-1' }, tool: 'charge', args: { amount: 2500 } },
        action: 'allow',
        rule: '/tools/charge',
        limits: [
          { key: 'per_agent|agent:bot-1', windowMs: 30_000, max: 100, cost: 1 },
          { key: 'spend|global', windowMs: 86_400_000, max: 100_000, cost: 2500, onExceed: 'require_approval', approval: EXPECTED_APPROVAL, rule: '/tools/charge/limits/0' },
        ],
      },
      { name: 'a missing increment_from argument denies', call: { tool: 'charge', args: {} }, action: 'deny', rule: '/tools/charge/limits/0/increment_from', reason: 'args.amount must be a number' },
      { name: 'a negative increment_from argument denies', call: { tool: 'charge', args: { amount: -5 } }, action: 'deny', rule: '/tools/charge/limits/0/increment_from' },
      { name: 'a non-numeric increment_from argument denies', call: { tool: 'charge', args: { amount: '25' } }, action: 'deny', rule: '/tools/charge/limits/0/increment_from' },
      { name: 'a zero cost is counted as zero', call: { tool: 'charge', args: { amount: 0 } }, action: 'allow', rule: '/tools/charge', limits: [{ counter: 'per_agent' }, { cost: 0 }] },
      { name: 'tools sharing a counter share its key', call: { tool: 'refund', args: { cents: 10 } }, action: 'allow', rule: '/tools/refund', limits: [{ counter: 'per_agent' }, { key: 'spend|global', max: 50_000, cost: 10, onExceed: 'deny' }] },
      { name: 'agent scope without an agent label counts under the grant', call: { caller: { grant: 'g' }, tool: 'chat' }, action: 'allow', rule: '/tools/chat', limits: [{ key: 'per_agent|grant:g' }, { key: 'msgs|grant:g' }] },
      { name: 'session scope keys by session', call: { caller: { grant: 'g', agent: 'a', session: 's-1' }, tool: 'chat' }, action: 'allow', rule: '/tools/chat', limits: [{ key: 'per_agent|agent:a' }, { key: 'msgs|session:s-1', windowMs: 300_000 }] },
      { name: 'scope values are escaped so they cannot forge a key', call: { caller: { grant: 'a|b', agent: 'x|global' }, tool: 'chat' }, action: 'allow', rule: '/tools/chat', limits: [{ key: 'per_agent|agent:x%7Cglobal' }, { key: 'msgs|grant:a%7Cb' }] },
      { name: 'denied calls ask for no limits', call: { tool: 'other' }, action: 'deny', rule: '/default', limits: [] },
    ]);
  });

  it('version is a stable hash of the canonical policy, not of its formatting', () => {
    const document = { version: '1', default: 'deny', tools: { a: {} } };
    const compact = loadPolicy(JSON.stringify(document));
    const spaced = loadPolicy(JSON.stringify({ tools: { a: {} }, default: 'deny', version: '1' }, null, 4));
    const changed = loadPolicy(JSON.stringify({ ...document, default: 'allow' }));
    if (!compact.ok || !spaced.ok || !changed.ok) throw new Error('invalid');
    // Pinned: approvals bind to this value, so an upgrade must not change the version of an unchanged policy.
    // python3 -c "import hashlib; print(hashlib.sha256(b'{\"default\":\"deny\",\"tools\":{\"a\":{}},\"version\":\"1\"}').hexdigest())"
    expect(compact.policy.version).toBe('ac0d8f125403230bd35eaf358b6b2b6a33333602da0ec8d994481bb1783ed315');
    expect(spaced.policy.version).toBe(compact.policy.version);
    expect(changed.policy.version).not.toBe(compact.policy.version);
    expect(Object.isFrozen(compact.policy.source)).toBe(true);
    expect(compact.policy.source).toEqual(document);
  });

  it('fails closed if evaluation throws', () => {
    const policy = compile({ version: '1', default: 'allow', tools: { t: { deny_if: [{ path: 'args.a', op: 'eq', value: 1 }] } } });
    const args = Object.defineProperty({}, 'a', { enumerable: true, get: () => { throw new Error('boom'); } });
    expect(evaluate(policy, { caller: { grant: 'g' }, server: '', tool: 't', args })).toMatchObject({ action: 'deny', limits: [] });
  });
});
