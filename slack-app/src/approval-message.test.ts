import type { types } from '@slack/bolt';
import { describe, expect, it } from 'vitest';

import type { Approval } from '../../server/src/approval/approval.js';
import {
  APPROVE_ACTION,
  approvalMessage,
  executionReply,
  messageState,
  OPEN_ACTION,
  REASON_ACTION,
  REASON_BLOCK,
  REJECT_ACTION,
  REJECT_REASON_CALLBACK,
  refusalText,
  rejectReasonModal,
} from './approval-message.js';
import { formatArguments } from './format-arguments.js';
import { riskHints } from './risk-hints.js';
import { targetChannels } from './slack-delivery.js';

const NOW = Date.parse('2026-11-24T09:00:00.000Z');

function approval(overrides: Partial<Approval> = {}): Approval {
  return {
    id: 'apr-1',
    status: 'pending',
    server: 'payments',
    tool: 'create_charge',
    grant: 'ci-bot',
    agent: 'claude-code',
    sessionId: null,
    args: { amount: 4200, currency: 'eur' },
    argsHash: 'h',
    policyVersion: 'v1',
    rule: '/tools/create_charge',
    spec: { approvers: ['slack:UALICE'], quorum: 1, timeoutMs: 15 * 60_000, onTimeout: 'reject', channels: [] },
    requestedAt: '2026-11-24T08:59:00.000Z',
    expiresAt: '2026-11-24T09:14:00.000Z',
    decidedAt: null,
    decidedBy: null,
    decidedVia: null,
    reason: null,
    joinedCount: 1,
    votes: [],
    execution: null,
    notifications: [],
    toolAnnotations: null,
    ...overrides,
  };
}

const render = (a: Approval) => approvalMessage(a, { consoleUrl: 'https://airlock.example/', now: NOW });
/** Every string in the blocks, one per line, as a reader would meet them. */
const allText = (blocks: types.KnownBlock[]): string => {
  const strings: string[] = [];
  JSON.stringify(blocks, (_key, value: unknown) => (typeof value === 'string' && strings.push(value), value));
  return strings.join('\n');
};
const actions = (blocks: types.KnownBlock[]) => blocks.find((b): b is types.ActionsBlock => b.type === 'actions');

describe('approvalMessage', () => {
  it('shows what is asked, by whom, under which rule, the time left, and three buttons', () => {
    const { text, blocks } = render(approval());
    expect(text).toBe('Approval needed: `create_charge` on `payments` for claude-code (grant `ci-bot`)');
    const shown = allText(blocks);
    for (const part of ['create_charge', 'payments', 'claude-code', 'ci-bot', '/tools/create_charge', '14 min', '"amount": 4200']) {
      expect(shown).toContain(part);
    }
    expect(shown).toContain('<!date^1795511640^');
    const buttons = actions(blocks)!.elements as types.Button[];
    expect(buttons.map((b) => [b.action_id, b.style, b.value, b.url])).toEqual([
      [APPROVE_ACTION, 'primary', 'apr-1', undefined],
      [REJECT_ACTION, 'danger', 'apr-1', undefined],
      [OPEN_ACTION, undefined, undefined, 'https://airlock.example/approvals/apr-1'],
    ]);
  });

  it('asks for a confirmation on Approve when the tool looks destructive or moves money', () => {
    const approve = (a: Approval) => (actions(render(a).blocks)!.elements as types.Button[])[0]!;
    expect(approve(approval()).confirm).toBeDefined();
    expect(approve(approval({ tool: 'list_invoices_summary' })).confirm).toBeUndefined();
  });

  it('escapes what agents control, so an argument cannot page a channel or fake a link', () => {
    const shown = allText(render(approval({ agent: '<!channel>', args: { note: '<!here> see <https://evil.example|docs>' } })).blocks);
    expect(shown).not.toContain('<!channel>');
    expect(shown).not.toContain('<!here>');
    expect(shown).not.toContain('<https://evil');
    expect(shown).toContain('&lt;!here&gt;');
  });

  it('cuts long values, and says so with a link to the console', () => {
    const shown = allText(render(approval({ args: { body: 'x'.repeat(5000) } })).blocks);
    expect(shown).toContain('… (4700 more characters)');
    expect(shown).toContain('Long values are cut here; <https://airlock.example/approvals/apr-1|the console> shows them whole.');
  });

  it('replaces the buttons with the outcome once decided: who, how, when, why', () => {
    const approved = render(approval({ status: 'approved', decidedBy: 'slack:UALICE', decidedVia: 'slack', decidedAt: '2026-11-24T08:59:42.000Z' }));
    expect(actions(approved.blocks)).toBeUndefined();
    expect(approved.text).toBe('Approved: `create_charge` on `payments`');
    expect(allText(approved.blocks)).toContain(':white_check_mark: *Approved* by <@UALICE> in Slack · <!date^');
    expect(allText(approved.blocks)).toContain('42 s after the request');

    const rejected = allText(
      render(approval({ status: 'rejected', decidedBy: 'web:carol', decidedVia: 'web', decidedAt: '2026-11-24T09:00:00.000Z', reason: 'not during\nthe freeze' })).blocks,
    );
    expect(rejected).toContain(':no_entry: *Rejected* by carol (console) in the console');
    expect(rejected).toContain('\n>not during\n>the freeze');
    expect(rejected).toContain('<https://airlock.example/approvals/apr-1|Open in the Airlock console>');
  });

  it('says what expiry, automatic approval and cancellation mean', () => {
    const decidedAt = '2026-11-24T09:14:00.000Z';
    const expired = allText(render(approval({ status: 'expired', decidedBy: 'system', decidedVia: 'system', decidedAt })).blocks);
    expect(expired).toContain('*Expired*: nobody decided within 15 min, so the call was refused');
    const auto = allText(render(approval({ status: 'approved', decidedBy: 'system', decidedVia: 'system', decidedAt })).blocks);
    expect(auto).toContain('*Approved* automatically');
    const cancelled = allText(render(approval({ status: 'cancelled', decidedBy: 'system', decidedVia: 'system', decidedAt, reason: 'the client cancelled the call' })).blocks);
    expect(cancelled).toContain('*Cancelled*: the client cancelled the call');
  });

  it('keeps the buttons of an abandoned approval, which is still decidable, and says why it is there', () => {
    const { blocks } = render(approval({ status: 'abandoned', decidedBy: 'system', decidedVia: 'system' }));
    expect(actions(blocks)).toBeDefined();
    expect(allText(blocks)).toContain('The gateway stopped while this call was held');
  });

  it('counts approvals toward a quorum and joined calls', () => {
    const shown = allText(
      render(
        approval({
          joinedCount: 3,
          spec: { approvers: ['group:oncall'], quorum: 2, timeoutMs: 900_000, onTimeout: 'reject', channels: [] },
          votes: [{ approver: 'slack:UBOB', decision: 'approve', via: 'slack', reason: null, at: '2026-11-24T09:00:00.000Z' }],
        }),
      ).blocks,
    );
    expect(shown).toContain('1 of 2 approvals: <@UBOB>');
    expect(shown).toContain('3 identical calls wait on this one decision.');
  });

  it('shows the execution outcome, and replies in the thread only once it is final', () => {
    const decided = { status: 'approved' as const, decidedBy: 'slack:UALICE', decidedVia: 'slack' as const, decidedAt: '2026-11-24T09:00:00.000Z' };
    const running = approval({ ...decided, execution: { status: 'running', upstreamStatus: null, at: null, durationMs: null } });
    expect(executionReply(running)).toBeUndefined();
    expect(allText(render(running).blocks)).toContain('Running on the upstream server');
    const failed = approval({ ...decided, execution: { status: 'failed', upstreamStatus: 'card_declined', at: null, durationMs: 87 } });
    expect(executionReply(failed)?.text).toBe(':x: The upstream server failed in 87 ms: `card_declined`.');
    const ok = approval({ ...decided, execution: { status: 'succeeded', upstreamStatus: 'ok', at: null, durationMs: 120 } });
    expect(executionReply(ok)?.text).toBe(':white_check_mark: The call ran in 120 ms (ok).');
  });

  it('changes state only when what the message shows changes', () => {
    expect(messageState(approval())).toBe(messageState(approval({ expiresAt: '2030-01-01T00:00:00.000Z' })));
    expect(messageState(approval())).not.toBe(messageState(approval({ status: 'approved' })));
  });
});

describe('rejectReasonModal and refusals', () => {
  it('carries the approval id and an optional reason input', () => {
    const view = rejectReasonModal(approval());
    expect(view).toMatchObject({ type: 'modal', callback_id: REJECT_REASON_CALLBACK, private_metadata: 'apr-1' });
    expect(view.blocks[1]).toMatchObject({ type: 'input', block_id: REASON_BLOCK, optional: true, element: { action_id: REASON_ACTION } });
  });

  it('shows the service message, escaped', () => {
    expect(refusalText({ ok: false, code: 'NOT_AN_APPROVER', message: 'slack:UX is not an approver <x>' })).toBe(':no_entry: slack:UX is not an approver &lt;x&gt;');
  });
});

describe('formatArguments', () => {
  it('keeps a code block closed when a value holds backticks', () => {
    const { text } = formatArguments({ sql: '```drop```' });
    expect(text.startsWith('```')).toBe(true);
    expect(text.slice(3, -3)).not.toContain('```');
  });

  it('cuts a huge argument list at a line, within Slack limits', () => {
    const args = Object.fromEntries(Array.from({ length: 400 }, (_, i) => [`key${i}`, `<value ${i}>`]));
    const { text, cut } = formatArguments(args);
    expect(cut).toBe(true);
    expect(text.length).toBeLessThan(2600);
    expect(text).toMatch(/\n… \(\d+ more characters\)```$/);
  });

  it('says when there are none', () => {
    expect(formatArguments({}).text).toBe('```(no arguments)```');
  });
});

describe('riskHints', () => {
  it('reads the tool name', () => {
    expect(riskHints('deleteRepository').map((h) => h.text)).toEqual(['May delete or destroy something']);
    expect(riskHints('github__merge-pr').map((h) => h.high)).toEqual([false]);
    expect(riskHints('get_weather')).toEqual([]);
  });

  it('uses annotations the server set explicitly', () => {
    expect(riskHints('tidy', { destructiveHint: true, openWorldHint: true }).map((h) => h.text)).toEqual([
      'Destructive, says the server',
      'Reaches systems outside your organisation, says the server',
    ]);
    expect(riskHints('tidy', { readOnlyHint: true, destructiveHint: true }).map((h) => h.text)).toEqual(['Read-only, says the server']);
  });
});

describe('targetChannels', () => {
  it("posts to the rule's Slack channels, the default otherwise, and nowhere for a web-only rule", () => {
    expect(targetChannels([], 'C0DEFAULT')).toEqual(['C0DEFAULT']);
    expect(targetChannels(['slack:#payments', 'slack', 'web'], 'C0DEFAULT')).toEqual(['#payments', 'C0DEFAULT']);
    expect(targetChannels(['web'], 'C0DEFAULT')).toEqual([]);
  });
});
