/**
 * What Slack shows for an approval: the request message (and its final state once decided), the execution
 * reply in its thread, the reject-reason modal, and the ephemeral refusals. Pure: a render is a function of the
 * approval, so any instance can redraw a message from the database row alone.
 *
 * The message is laid out for a phone: what is asked and by whom first, risk hints, then the arguments, then the
 * buttons; once decided, the outcome replaces the buttons so nobody clicks a stale request.
 */
import type { types } from '@slack/bolt';

import type { Approval, ApprovalStatus, DecideOutcome } from '../../server/src/approval/approval.js';
import { isOpen } from '../../server/src/approval/open-statuses.js';
import { formatArguments } from './format-arguments.js';
import { code, escape, humanDuration, slackDate, via, who } from './mrkdwn.js';
import { riskHints, type ToolAnnotations } from './risk-hints.js';

export const APPROVE_ACTION = 'airlock:approve';
export const REJECT_ACTION = 'airlock:reject';
/** The console link button; Slack still sends a click on it, which must be acknowledged. */
export const OPEN_ACTION = 'airlock:open';
export const REJECT_REASON_CALLBACK = 'airlock:reject-reason';
export const REASON_BLOCK = 'reason';
export const REASON_ACTION = 'reason';

export interface SlackMessage {
  /** The notification and screen-reader text; Slack shows blocks in the channel. */
  text: string;
  blocks: types.KnownBlock[];
}

export interface RenderContext {
  consoleUrl: string;
  /** Epoch milliseconds, for the time left. */
  now: number;
  annotations?: ToolAnnotations;
}

const STATUS: Record<ApprovalStatus, { icon: string; word: string }> = {
  pending: { icon: ':raised_hand:', word: 'Approval needed' },
  approved: { icon: ':white_check_mark:', word: 'Approved' },
  rejected: { icon: ':no_entry:', word: 'Rejected' },
  expired: { icon: ':hourglass:', word: 'Expired' },
  cancelled: { icon: ':no_entry_sign:', word: 'Cancelled' },
  abandoned: { icon: ':raised_hand:', word: 'Approval still needed' },
};

function consoleLink(consoleUrl: string, approvalId: string): string {
  return `${consoleUrl.replace(/\/+$/, '')}/approvals/${encodeURIComponent(approvalId)}`;
}

/**
 * What a message shows that can change after it is posted. A redraw is due when this differs from what was
 * drawn; the time left is not part of it (the expiry is shown as an absolute date).
 */
export function messageState(approval: Approval): string {
  return `${approval.status}:${approval.votes.length}:${approval.joinedCount}:${approval.execution?.status ?? '-'}`;
}

const plain = (text: string, max = 150): types.PlainTextElement => ({
  type: 'plain_text',
  text: text.length > max ? `${text.slice(0, max - 1)}…` : text,
  emoji: true,
});
const mrkdwn = (text: string): types.MrkdwnElement => ({ type: 'mrkdwn', text });

export function approvalMessage(approval: Approval, context: RenderContext): SlackMessage {
  const { icon, word } = STATUS[approval.status];
  const open = isOpen(approval.status);
  const link = consoleLink(context.consoleUrl, approval.id);
  const hints = riskHints(approval.tool, context.annotations);
  const args = formatArguments(approval.args);

  const blocks: types.KnownBlock[] = [
    { type: 'header', text: plain(`${icon} ${word}: ${approval.tool}`) },
    {
      type: 'section',
      fields: [
        mrkdwn(`*Tool*\n${code(approval.tool)}`),
        mrkdwn(`*Server*\n${code(approval.server)}`),
        mrkdwn(`*Agent*\n${approval.agent ? escape(approval.agent) : '_not named_'}`),
        mrkdwn(`*Grant*\n${code(approval.grant)}`),
        mrkdwn(`*Rule*\n${code(approval.rule)}`),
        open
          ? mrkdwn(`*Time left*\n${humanDuration(Date.parse(approval.expiresAt) - context.now)} (until ${slackDate(approval.expiresAt)})`)
          : mrkdwn(`*Requested*\n${slackDate(approval.requestedAt)}`),
      ],
    },
  ];
  if (hints.length > 0) {
    blocks.push({ type: 'context', elements: [mrkdwn(hints.map((h) => `:warning: ${h.text}`).join('   '))] });
  }
  blocks.push({ type: 'section', text: mrkdwn(`*Arguments*\n${args.text}`) });

  const notes: string[] = [];
  if (args.cut) notes.push(`Long values are cut here; <${link}|the console> shows them whole.`);
  if (approval.status === 'abandoned') {
    notes.push(':warning: The gateway stopped while this call was held. A decision still applies when the agent retries the identical call.');
  }
  if (approval.joinedCount > 1) notes.push(`${approval.joinedCount} identical calls wait on this one decision.`);
  if (open && approval.spec.quorum > 1) notes.push(votesLine(approval));
  if (notes.length > 0) blocks.push({ type: 'context', elements: notes.map(mrkdwn) });

  if (open) {
    blocks.push({ type: 'actions', block_id: 'airlock:decide', elements: buttons(approval, link, hints.some((h) => h.high)) });
  } else {
    blocks.push({ type: 'section', text: mrkdwn(outcomeLine(approval)) });
    const execution = executionLine(approval);
    if (execution) blocks.push({ type: 'section', text: mrkdwn(execution) });
    blocks.push({ type: 'context', elements: [mrkdwn(`<${link}|Open in the Airlock console>`)] });
  }

  const subject = `${code(approval.tool)} on ${code(approval.server)}`;
  const text = open
    ? `${word}: ${subject} for ${approval.agent ? escape(approval.agent) : 'an agent'} (grant ${code(approval.grant)})`
    : `${word}: ${subject}`;
  return { text, blocks };
}

function buttons(approval: Approval, link: string, highRisk: boolean): types.Button[] {
  const approve: types.Button = {
    type: 'button',
    action_id: APPROVE_ACTION,
    text: plain('Approve'),
    style: 'primary',
    value: approval.id,
  };
  if (highRisk) {
    // A second tap on a phone is cheap; an unintended approval of a destructive call is not.
    approve.confirm = {
      title: plain('Approve this call?', 100),
      text: mrkdwn(`${code(approval.tool)} on ${code(approval.server)} will run with the arguments shown.`),
      confirm: plain('Approve', 30),
      deny: plain('Cancel', 30),
      style: 'primary',
    };
  }
  return [
    approve,
    { type: 'button', action_id: REJECT_ACTION, text: plain('Reject…'), style: 'danger', value: approval.id },
    { type: 'button', action_id: OPEN_ACTION, text: plain('Open in console'), url: link },
  ];
}

function votesLine(approval: Approval): string {
  const approvals = approval.votes.filter((v) => v.decision === 'approve');
  const names = approvals.map((v) => who(v.approver)).join(', ');
  return `:ballot_box_with_check: ${approvals.length} of ${approval.spec.quorum} approvals${names ? `: ${names}` : ''}`;
}

function outcomeLine(approval: Approval): string {
  const { icon, word } = STATUS[approval.status];
  const reason = approval.reason ? `\n>${escape(approval.reason).replace(/\n/g, '\n>')}` : '';
  const when = approval.decidedAt ? ` · ${slackDate(approval.decidedAt)}` : '';
  const after = approval.decidedAt ? ` · ${humanDuration(Date.parse(approval.decidedAt) - Date.parse(approval.requestedAt))} after the request` : '';
  switch (approval.status) {
    case 'expired':
      return `${icon} *Expired*: nobody decided within ${humanDuration(approval.spec.timeoutMs)}, so the call was refused${when}.`;
    case 'cancelled':
      return `${icon} *Cancelled*: ${approval.reason ? escape(approval.reason) : 'the agent withdrew the call before anyone decided'}${when}.`;
    default: {
      if (approval.decidedBy === 'system') {
        return `${icon} *${word}* automatically: nobody decided within ${humanDuration(approval.spec.timeoutMs)} and the rule approves on timeout${when}.`;
      }
      const channel = via(approval.decidedVia);
      return `${icon} *${word}* by ${who(approval.decidedBy)}${channel ? ` ${channel}` : ''}${when}${after}${reason}`;
    }
  }
}

function executionLine(approval: Approval): string | undefined {
  const execution = approval.execution;
  if (!execution) return undefined;
  const took = execution.durationMs === null ? '' : ` in ${execution.durationMs} ms`;
  switch (execution.status) {
    case 'running':
      return ':gear: Running on the upstream server…';
    case 'succeeded':
      return `:white_check_mark: The call ran${took}${execution.upstreamStatus ? ` (${escape(execution.upstreamStatus)})` : ''}.`;
    case 'failed':
      return `:x: The upstream server failed${took}: ${execution.upstreamStatus ? code(execution.upstreamStatus) : 'no detail given'}.`;
  }
}

/** The thread reply once the approved call has finished, or undefined while it has not. */
export function executionReply(approval: Approval): SlackMessage | undefined {
  if (approval.execution?.status !== 'succeeded' && approval.execution?.status !== 'failed') return undefined;
  const line = executionLine(approval) ?? '';
  return { text: line, blocks: [{ type: 'section', text: mrkdwn(line) }] };
}

export function rejectReasonModal(approval: Approval): types.ModalView {
  return {
    type: 'modal',
    callback_id: REJECT_REASON_CALLBACK,
    private_metadata: approval.id,
    title: plain('Reject this call', 24),
    submit: plain('Reject', 24),
    close: plain('Cancel', 24),
    blocks: [
      {
        type: 'section',
        text: mrkdwn(`Reject ${code(approval.tool)} on ${code(approval.server)}${approval.agent ? ` for ${escape(approval.agent)}` : ''}? The agent is told who rejected it and why.`),
      },
      {
        type: 'input',
        block_id: REASON_BLOCK,
        optional: true,
        label: plain('Reason', 2000),
        hint: plain('Shown to the agent and kept in the audit log.', 2000),
        element: { type: 'plain_text_input', action_id: REASON_ACTION, multiline: true, max_length: 2000 },
      },
    ],
  };
}

const REFUSAL_ICON: Record<Extract<DecideOutcome, { ok: false }>['code'], string> = {
  NOT_FOUND: ':grey_question:',
  ALREADY_DECIDED: ':information_source:',
  ALREADY_VOTED: ':information_source:',
  NOT_AN_APPROVER: ':no_entry:',
  SELF_APPROVAL: ':no_entry:',
};

/** The ephemeral answer to a click the approval service refused; nothing was changed. */
export function refusalText(refusal: Extract<DecideOutcome, { ok: false }>): string {
  return `${REFUSAL_ICON[refusal.code]} ${escape(refusal.message)}`;
}
