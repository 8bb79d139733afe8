/**
 * The queue: pending approvals, oldest first, kept current by the live stream (no reload, no polling). Items are
 * added, updated and removed in place, so a half-typed reason survives other items coming and going.
 *
 * Keys: j / k move, a approves, r opens the reject reason (Enter sends it), o or Enter opens the details.
 */
import type { Approval } from '../../../server/src/approval/approval.js';
import type { Page } from '../context.js';
import { decisionControls, type DecisionControls } from '../decide.js';
import { h, isTyping, replace } from '../dom.js';
import { ago, argumentsView, countdown } from '../format.js';

interface Item {
  approval: Approval;
  element: HTMLLIElement;
  controls: DecisionControls | undefined;
}

export const queuePage: Page = (main, context) => {
  const items = new Map<string, Item>();
  const list = h('ol', { class: 'queue', 'aria-label': 'Pending approvals, oldest first' });
  const empty = h('p', { class: 'empty' }, 'Nothing is waiting for a decision. New calls appear here as they arrive.');
  const count = h('span', { class: 'count' });
  let selected = 0;

  replace(
    main,
    h('div', { class: 'page-head' }, h('h1', {}, 'Queue ', count), shortcutsHelp(context.canDecide)),
    empty,
    list,
  );

  const order = () => Array.from(list.children) as HTMLLIElement[];

  const select = (index: number, focus: boolean) => {
    const elements = order();
    if (elements.length === 0) return;
    selected = Math.max(0, Math.min(index, elements.length - 1));
    elements.forEach((element, i) => element.classList.toggle('selected', i === selected));
    if (focus) elements[selected]!.focus();
  };

  const render = (approval: Approval): Item => {
    const controls = context.canDecide ? decisionControls(approval, () => undefined) : undefined;
    const element = h('li', { class: 'card', tabindex: -1, 'data-id': approval.id, 'aria-label': `${approval.tool} on ${approval.server}` });
    element.addEventListener('focusin', () => select(order().indexOf(element), false));
    fill(element, approval, controls);
    return { approval, element, controls };
  };

  const sync = () => {
    const pending = context.live.pending();
    const keep = new Set(pending.map((approval) => approval.id));
    for (const [id, item] of items) {
      if (!keep.has(id)) {
        item.element.remove();
        items.delete(id);
      }
    }
    // Oldest first: appending in order moves existing elements without rebuilding them.
    for (const approval of pending) {
      let item = items.get(approval.id);
      if (!item) {
        item = render(approval);
        items.set(approval.id, item);
      } else if (item.approval !== approval) {
        item.approval = approval;
        updateMeta(item.element, approval);
      }
      list.appendChild(item.element);
    }
    empty.hidden = pending.length > 0;
    count.textContent = pending.length > 0 ? `(${pending.length} pending)` : '';
    document.title = pending.length > 0 ? `(${pending.length}) Queue · Airlock` : 'Queue · Airlock';
    select(selected, false);
  };

  const unsubscribe = context.live.subscribe((event) => {
    if (event.type !== 'status') sync();
  });
  sync();

  const onKey = (event: KeyboardEvent) => {
    if (isTyping(event.target) || event.metaKey || event.ctrlKey || event.altKey) return;
    const current = order()[selected];
    const item = current ? items.get(current.dataset.id ?? '') : undefined;
    switch (event.key) {
      case 'j':
        select(selected + 1, true);
        break;
      case 'k':
        select(selected - 1, true);
        break;
      case 'a':
        item?.controls?.approve();
        break;
      case 'r':
        item?.controls?.startReject();
        break;
      case 'o':
      case 'Enter':
        // Enter on a button belongs to the button.
        if (event.key === 'Enter' && event.target !== current) return;
        if (item) context.navigate(`/approvals/${encodeURIComponent(item.approval.id)}`);
        break;
      default:
        return;
    }
    event.preventDefault();
  };
  document.addEventListener('keydown', onKey);
  return () => {
    unsubscribe();
    document.removeEventListener('keydown', onKey);
  };
};

function fill(element: HTMLLIElement, approval: Approval, controls: DecisionControls | undefined): void {
  replace(
    element,
    h(
      'div',
      { class: 'card-head' },
      h('h2', {}, h('span', { class: 'tool' }, approval.tool), h('span', { class: 'on' }, ' on '), h('span', { class: 'server' }, approval.server)),
      countdown(approval.expiresAt),
    ),
    h('dl', { class: 'meta' }),
    h('div', { class: 'card-args' }, h('h3', {}, 'Arguments'), argumentsView(approval.args)),
    controls ? controls.element : h('p', { class: 'muted' }, 'You can follow the queue; deciding needs the approver role.'),
    h('a', { class: 'details', href: `/approvals/${encodeURIComponent(approval.id)}`, 'data-nav': true }, 'Details and audit trail'),
  );
  updateMeta(element, approval);
}

/** The parts of a pending approval that change while it waits: joined calls and votes. */
function updateMeta(element: HTMLElement, approval: Approval): void {
  const meta = element.querySelector('dl.meta');
  if (!meta) return;
  const rows: [string, Node | string][] = [
    ...(approval.agent ? ([['Agent', approval.agent]] as [string, string][]) : []),
    ['Grant', approval.grant],
    ['Rule', h('code', {}, approval.rule)],
    ['Requested', ago(approval.requestedAt)],
    ['Calls waiting', approval.joinedCount === 1 ? '1' : `${approval.joinedCount} identical calls`],
    ['Approvers', `${approval.spec.quorum > 1 ? `${approval.spec.quorum} of ` : ''}${approval.spec.approvers.join(', ')}`],
  ];
  if (approval.votes.length > 0) rows.push(['Votes', approval.votes.map((vote) => `${vote.approver}: ${vote.decision}`).join(', ')]);
  if (approval.status === 'abandoned') rows.push(['Held call', 'The gateway stopped while holding it; a decision applies to the agent’s retry']);
  replace(meta, rows.map(([term, value]) => h('div', {}, h('dt', {}, term), h('dd', {}, value))));
}

function shortcutsHelp(canDecide: boolean): HTMLElement {
  const keys: [string, string][] = [
    ['j', 'next'],
    ['k', 'previous'],
    ...(canDecide ? ([['a', 'approve'], ['r', 'reject with a reason']] as [string, string][]) : []),
    ['o', 'open details'],
  ];
  return h(
    'p',
    { class: 'shortcuts', 'aria-label': 'Keyboard shortcuts' },
    keys.map(([key, what]) => h('span', {}, h('kbd', {}, key), ` ${what}`)),
  );
}
