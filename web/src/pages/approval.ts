/**
 * One approval (`/approvals/:id`, the page Slack links to): what was asked, by whom, under which rule; the
 * decision controls while it is open; who decided, how and why; what the upstream did; and every audit event
 * of it. Laid out for a phone first: the decision is near the top. Redrawn when the live stream reports a change.
 */
import type { Approval } from '../../../server/src/approval/approval.js';
import { isOpen } from '../../../server/src/approval/open-statuses.js';
import type { AuditPage } from '../../../server/src/audit/audit-store.js';
import { api, ApiError } from '../api.js';
import type { Page } from '../context.js';
import { decisionControls } from '../decide.js';
import { h, replace } from '../dom.js';
import { argumentsView, countdown, duration, timeElement, who } from '../format.js';
import { eventSummary, kindBadge } from './audit-view.js';

const STATUS_TEXT: Record<Approval['status'], string> = {
  pending: 'Waiting for a decision',
  approved: 'Approved',
  rejected: 'Rejected',
  expired: 'Expired',
  cancelled: 'Cancelled',
  abandoned: 'Waiting for a decision (the gateway stopped while holding the call; a decision applies to the agent’s retry)',
};

export const approvalPage: Page = (main, context, [id = '']) => {
  const status = h('p', { class: 'muted', role: 'status' }, 'Loading…');
  replace(main, h('p', {}, h('a', { href: '/', 'data-nav': true }, '← Queue')), status);
  let stopped = false;

  const load = async () => {
    try {
      const [approval, audit] = await Promise.all([
        api<Approval>(`/approvals/${encodeURIComponent(id)}`),
        api<AuditPage>(`/audit?approvalId=${encodeURIComponent(id)}&limit=500`),
      ]);
      if (!stopped) draw(approval, audit);
    } catch (error) {
      status.textContent = error instanceof ApiError && error.status === 404 ? `No approval "${id}".` : `Could not load the approval: ${String((error as Error).message)}`;
    }
  };

  const draw = (approval: Approval, audit: AuditPage) => {
    document.title = `${approval.tool} · ${STATUS_TEXT[approval.status].split(' (')[0]} · Airlock`;
    const open = isOpen(approval.status);
    replace(
      main,
      h('p', {}, h('a', { href: '/', 'data-nav': true }, '← Queue')),
      h(
        'div',
        { class: 'page-head' },
        h('h1', {}, h('span', { class: 'tool' }, approval.tool), h('span', { class: 'on' }, ' on '), h('span', { class: 'server' }, approval.server)),
        h('p', { class: `status status-${approval.status}` }, STATUS_TEXT[approval.status], open ? [' · ', countdown(approval.expiresAt)] : null),
      ),
      open
        ? h(
            'section',
            { class: 'panel', 'aria-labelledby': 'decide-title' },
            h('h2', { id: 'decide-title' }, 'Decide'),
            context.canDecide
              ? decisionControls(approval, () => void load()).element
              : h('p', { class: 'muted' }, 'Deciding needs the approver role.'),
          )
        : decisionPanel(approval),
      approval.execution ? executionPanel(approval.execution) : null,
      h('section', { class: 'panel', 'aria-labelledby': 'args-title' }, h('h2', { id: 'args-title' }, 'Arguments'), argumentsView(approval.args)),
      callPanel(approval),
      auditPanel(audit),
    );
  };

  const unsubscribe = context.live.subscribe((event) => {
    // After a reconnect the page may have missed this approval's change: read it again.
    if ((event.type === 'change' && event.approval.id === id) || (event.type === 'status' && event.status === 'restored')) void load();
  });
  void load();
  return () => {
    stopped = true;
    unsubscribe();
  };
};

function facts(rows: [string, Node | string | null][]): HTMLElement {
  return h(
    'dl',
    { class: 'facts' },
    rows.filter(([, value]) => value !== null).map(([term, value]) => h('div', {}, h('dt', {}, term), h('dd', {}, value))),
  );
}

function decisionPanel(approval: Approval): HTMLElement {
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': 'decision-title' },
    h('h2', { id: 'decision-title' }, 'Decision'),
    facts([
      ['Outcome', STATUS_TEXT[approval.status]],
      ['By', who(approval.decidedBy)],
      ['Through', approval.decidedVia],
      ['At', approval.decidedAt ? timeElement(approval.decidedAt) : null],
      ['After', approval.decidedAt ? duration(Date.parse(approval.decidedAt) - Date.parse(approval.requestedAt)) : null],
      ['Reason', approval.reason ?? '—'],
      ['Votes', approval.votes.length > 0 ? approval.votes.map((vote) => `${who(vote.approver)}: ${vote.decision}${vote.reason ? ` (${vote.reason})` : ''}`).join('; ') : null],
    ]),
  );
}

function executionPanel(execution: NonNullable<Approval['execution']>): HTMLElement {
  const outcome = { running: 'Running', succeeded: 'Succeeded', failed: 'Failed' }[execution.status];
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': 'execution-title' },
    h('h2', { id: 'execution-title' }, 'Execution'),
    facts([
      ['Outcome', h('span', { class: `outcome outcome-${execution.status}` }, outcome)],
      ['Upstream said', execution.upstreamStatus],
      ['Took', execution.durationMs === null ? null : duration(execution.durationMs)],
      ['At', execution.at ? timeElement(execution.at) : null],
    ]),
  );
}

function callPanel(approval: Approval): HTMLElement {
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': 'call-title' },
    h('h2', { id: 'call-title' }, 'Call'),
    facts([
      ['Agent', approval.agent ?? '—'],
      ['Grant', approval.grant],
      ['Session', approval.sessionId],
      ['Rule', h('code', {}, approval.rule)],
      ['Approvers', `${approval.spec.quorum > 1 ? `${approval.spec.quorum} of ` : ''}${approval.spec.approvers.join(', ')}`],
      ['On timeout', approval.spec.onTimeout],
      ['Requested', timeElement(approval.requestedAt)],
      ['Expires', timeElement(approval.expiresAt)],
      ['Identical calls', String(approval.joinedCount)],
      ['Policy version', h('code', { class: 'hash' }, approval.policyVersion)],
      ['Arguments hash', h('code', { class: 'hash' }, approval.argsHash)],
      ['Approval id', h('code', {}, approval.id)],
    ]),
  );
}

function auditPanel(audit: AuditPage): HTMLElement {
  // Oldest first reads as a story: requested, joined, decided, executed.
  const events = [...audit.events].reverse();
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': 'audit-title' },
    h('h2', { id: 'audit-title' }, `Audit trail (${events.length})`),
    events.length === 0
      ? h('p', { class: 'muted' }, 'No audit events yet (they are written within a moment).')
      : h(
          'ol',
          { class: 'timeline' },
          events.map((event) =>
            h('li', {}, kindBadge(event.record.kind), ' ', timeElement(event.record.ts), h('p', {}, eventSummary(event.record)), h('p', { class: 'muted small' }, `seq ${event.seq} · hash ${event.hash.slice(0, 16)}…`)),
          ),
        ),
  );
}
