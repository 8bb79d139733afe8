/**
 * The audit log: filters (outcome, tool, server, agent, approver, time range) kept in the URL so a view can be
 * shared, newest first, keyset paging ("Older events" stays as fast on page 1,000 as on page 1), export of exactly
 * the filtered rows as JSONL or CSV, and the result of verifying the hash chain.
 */
import type { AuditEventView, AuditPage } from '../../../server/src/audit/audit-store.js';
import type { VerifyResult } from '../../../server/src/audit/verify.js';
import { api } from '../api.js';
import type { Page } from '../context.js';
import { AUDIT_EVENT_KINDS } from '../../../server/src/audit/event-kinds.js';
import { h, replace, uid } from '../dom.js';
import { timeElement } from '../format.js';
import { eventSummary, kindBadge, kindText } from './audit-view.js';

const TEXT_FILTERS = [
  ['tool', 'Tool', 'create_charge'],
  ['server', 'Server', 'github'],
  ['agent', 'Agent', 'support-bot'],
  ['approver', 'Approver', 'alice or slack:U024BE7LH'],
] as const;
const PAGE_SIZE = 50;

export const historyPage: Page = (main) => {
  document.title = 'History · Airlock';
  const fields = new Map<string, HTMLInputElement | HTMLSelectElement>();
  const field = (name: string, label: string, control: HTMLInputElement | HTMLSelectElement) => {
    const id = uid(name);
    control.id = id;
    control.name = name;
    fields.set(name, control);
    return h('div', { class: control.type === 'datetime-local' ? 'field time' : 'field' }, h('label', { for: id }, label), control);
  };
  const kind = h('select', {}, h('option', { value: '' }, 'Any'), AUDIT_EVENT_KINDS.map((value) => h('option', { value }, kindText(value))));
  const form = h(
    'form',
    { class: 'filters', role: 'search', 'aria-label': 'Filter the audit log' },
    field('kind', 'Outcome', kind),
    TEXT_FILTERS.map(([name, label, example]) => field(name, label, h('input', { type: 'text', placeholder: example, autocomplete: 'off' }))),
    field('from', 'From', h('input', { type: 'datetime-local', step: 1 })),
    field('to', 'Until', h('input', { type: 'datetime-local', step: 1 })),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'button primary' }, 'Apply filters'), h('button', { type: 'reset', class: 'button quiet' }, 'Clear')),
  );
  const jsonl = h('a', { class: 'button quiet', download: true }, 'Export JSONL');
  const csv = h('a', { class: 'button quiet', download: true }, 'Export CSV');
  const summary = h('p', { class: 'muted', role: 'status' });
  const rows = h('tbody');
  const table = h(
    'table',
    { class: 'events' },
    h('caption', { class: 'visually-hidden' }, 'Audit events, newest first'),
    h('thead', {}, h('tr', {}, ['Time', 'Outcome', 'Tool', 'Agent', 'Details', 'Approval'].map((title) => h('th', { scope: 'col' }, title)))),
    rows,
  );
  const older = h('button', { type: 'button', class: 'button quiet', hidden: true }, 'Older events');
  const verify = h('section', { class: 'panel verify', 'aria-labelledby': 'verify-title' });

  replace(
    main,
    h('div', { class: 'page-head' }, h('h1', {}, 'History'), h('div', { class: 'actions' }, jsonl, csv)),
    form,
    summary,
    h('div', { class: 'table-wrap' }, table),
    older,
    verify,
  );

  let nextBeforeSeq: number | null = null;
  let shown = 0;
  let generation = 0;

  /** The filters as API query parameters; datetime-local values are local times, sent as instants. */
  const filterParams = (): URLSearchParams => {
    const params = new URLSearchParams();
    for (const [name, control] of fields) {
      const value = control.value.trim();
      if (value === '') continue;
      params.set(name, name === 'from' || name === 'to' ? new Date(value).toISOString() : value);
    }
    return params;
  };

  const load = async (append: boolean) => {
    const run = ++generation;
    const params = filterParams();
    jsonl.href = `/api/audit/export?${withParam(params, 'format', 'jsonl')}`;
    csv.href = `/api/audit/export?${withParam(params, 'format', 'csv')}`;
    params.set('limit', String(PAGE_SIZE));
    if (append && nextBeforeSeq !== null) params.set('beforeSeq', String(nextBeforeSeq));
    summary.textContent = 'Loading…';
    const page = await api<AuditPage>(`/audit?${params}`);
    if (run !== generation) return;
    if (!append) {
      rows.replaceChildren();
      shown = 0;
    }
    for (const event of page.events) rows.appendChild(row(event));
    shown += page.events.length;
    nextBeforeSeq = page.nextBeforeSeq;
    older.hidden = nextBeforeSeq === null;
    summary.textContent = shown === 0 ? 'No events match these filters.' : `${shown} event${shown === 1 ? '' : 's'} shown${nextBeforeSeq === null ? '' : ', more are older'}.`;
  };

  // The URL holds the filters: reloading or sharing the link shows the same view.
  const fromUrl = new URLSearchParams(location.search);
  for (const [name, control] of fields) {
    const value = fromUrl.get(name);
    if (value !== null) control.value = name === 'from' || name === 'to' ? toLocalInput(value) : value;
  }
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const params = filterParams();
    history.replaceState(null, '', `/history${params.toString() === '' ? '' : `?${params}`}`);
    void load(false);
  });
  form.addEventListener('reset', () => {
    // After the browser has cleared the fields.
    setTimeout(() => form.requestSubmit());
  });
  older.addEventListener('click', () => void load(true));
  void load(false);
  void showVerification(verify);
};

function row(event: AuditEventView): HTMLTableRowElement {
  const record = event.record;
  const approval = record.approvalId
    ? h('a', { href: `/approvals/${encodeURIComponent(record.approvalId)}`, 'data-nav': true }, 'open')
    : '—';
  return h(
    'tr',
    {},
    h('td', { 'data-label': 'Time' }, timeElement(record.ts, 'short')),
    h('td', { 'data-label': 'Outcome' }, kindBadge(record.kind)),
    h('td', { 'data-label': 'Tool' }, record.tool ? `${record.tool}${record.server ? ` on ${record.server}` : ''}` : '—'),
    h('td', { 'data-label': 'Agent' }, record.agent ?? record.grant ?? '—'),
    h('td', { 'data-label': 'Details' }, eventSummary(record)),
    h('td', { 'data-label': 'Approval' }, approval),
  );
}

async function showVerification(panel: HTMLElement): Promise<void> {
  const again = h('button', { type: 'button', class: 'button quiet' }, 'Verify again');
  again.addEventListener('click', () => void showVerification(panel));
  replace(panel, h('h2', { id: 'verify-title' }, 'Integrity'), h('p', { class: 'muted', role: 'status' }, 'Verifying the hash chain…'));
  const result = await api<VerifyResult & { checkedAt: string }>('/audit/verify');
  const range = result.firstSeq === undefined ? '' : ` (seq ${result.firstSeq}–${result.lastSeq})`;
  const verdict = result.ok
    ? h('p', { class: 'verdict ok', role: 'status' }, `✔ The audit log is intact: ${result.rows} rows${range} verified.`)
    : h('p', { class: 'verdict bad', role: 'alert' }, `✘ The audit log has been altered: ${result.problems.length + result.moreProblems} problems in ${result.rows} rows${range}.`);
  replace(
    panel,
    h('h2', { id: 'verify-title' }, 'Integrity'),
    verdict,
    result.ok ? null : h('ul', {}, result.problems.map((problem) => h('li', {}, `${problem.seq === undefined ? '' : `seq ${problem.seq}: `}${problem.message}`))),
    h('p', { class: 'muted small' }, 'Checked ', timeElement(result.checkedAt), result.lastHash ? ` · last hash ${result.lastHash.slice(0, 16)}…` : '', ' · same check as ', h('code', {}, 'airlock audit verify')),
    again,
  );
}

function withParam(params: URLSearchParams, name: string, value: string): string {
  const copy = new URLSearchParams(params);
  copy.set(name, value);
  return copy.toString();
}

/** An ISO instant as a datetime-local input's value, in the browser's time zone. */
function toLocalInput(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  const local = new Date(date.getTime() - date.getTimezoneOffset() * 60_000);
  return local.toISOString().slice(0, 19);
}
