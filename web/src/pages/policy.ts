/**
 * The policy in force, read-only: every upstream tool with the decision a call to it meets and the rule behind
 * it, the problems of a change that was refused (the last good policy then stays in force), and the file as written.
 */
import type { PolicyView, ToolDecision } from '../../../server/src/console/policy-routes.js';
import { api } from '../api.js';
import type { Page } from '../context.js';
import { h, replace } from '../dom.js';
import { timeElement } from '../format.js';

const DECISION_TEXT: Record<ToolDecision['decision'], string> = {
  allow: 'allow',
  deny: 'deny',
  require_approval: 'needs approval',
  hidden: 'hidden',
};
const DECISION_TONE: Record<ToolDecision['decision'], string> = { allow: 'good', deny: 'bad', require_approval: 'wait', hidden: 'none' };

export const policyPage: Page = (main) => {
  document.title = 'Policy · Airlock';
  replace(main, h('h1', {}, 'Policy'), h('p', { class: 'muted', role: 'status' }, 'Loading the policy and each upstream’s tools…'));
  void api<PolicyView>('/policy').then((view) => draw(main, view));
};

function draw(main: HTMLElement, view: PolicyView): void {
  replace(
    main,
    h('h1', {}, 'Policy'),
    view.refusal
      ? h(
          'section',
          { class: 'panel alert', role: 'alert' },
          h('h2', {}, 'The last change to the policy file was refused'),
          h('p', {}, 'The policy below stays in force until the file is fixed. Refused ', timeElement(view.refusal.at), ':'),
          h('ul', { class: 'problems' }, view.refusal.problems.map((problem) => h('li', {}, h('code', {}, problem)))),
        )
      : null,
    view.policy
      ? h(
          'p',
          { class: 'muted' },
          view.policy.path ? ['From ', h('code', {}, view.policy.path), ' · '] : null,
          `default: ${view.policy.default} · version `,
          h('code', { class: 'hash' }, view.policy.version.slice(0, 12)),
        )
      : h('p', { class: 'muted' }, 'No policy file is configured: every call is allowed.'),
    view.servers.map(serverSection),
    view.policy
      ? h('details', { class: 'panel' }, h('summary', {}, 'The policy file as written'), h('pre', { class: 'source' }, JSON.stringify(view.policy.source, null, 2)))
      : null,
  );
}

function serverSection(server: PolicyView['servers'][number]): HTMLElement {
  const titleId = `server-${server.name}`;
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': titleId },
    h('h2', { id: titleId }, `Server ${server.name}`),
    server.error ? h('p', { class: 'error' }, `Its tools could not be listed: ${server.error}`) : null,
    server.tools.length === 0 && !server.error ? h('p', { class: 'muted' }, 'This server offers no tools.') : null,
    server.tools.length > 0
      ? h(
          'div',
          { class: 'table-wrap' },
          h(
            'table',
            { class: 'tools' },
            h('thead', {}, h('tr', {}, ['Tool', 'Decision', 'Rule', 'Also'].map((title) => h('th', { scope: 'col' }, title)))),
            h('tbody', {}, server.tools.map(toolRow)),
          ),
        )
      : null,
  );
}

function toolRow(tool: ToolDecision): HTMLTableRowElement {
  const also = [
    tool.conditions > 0 ? `${tool.conditions} condition${tool.conditions === 1 ? '' : 's'} on arguments` : '',
    tool.limits > 0 ? `${tool.limits} rate limit${tool.limits === 1 ? '' : 's'}` : '',
    tool.approvers ? `approvers: ${tool.approvers.join(', ')}` : '',
    tool.reason ? `agents are told: “${tool.reason}”` : '',
  ].filter(Boolean);
  return h(
    'tr',
    {},
    // One child per cell: on phones each cell is a two-column grid of its label and its content.
    h('td', { 'data-label': 'Tool' }, h('div', {}, h('strong', {}, tool.name), tool.description ? h('span', { class: 'muted small block' }, tool.description) : null)),
    h('td', { 'data-label': 'Decision' }, h('span', { class: `badge tone-${DECISION_TONE[tool.decision]}` }, DECISION_TEXT[tool.decision])),
    h('td', { 'data-label': 'Rule' }, tool.rule ? h('code', {}, tool.rule) : '—'),
    h('td', { 'data-label': 'Also' }, also.join(' · ') || '—'),
  );
}
