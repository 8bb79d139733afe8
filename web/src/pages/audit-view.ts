/** How one audit event reads, in the history and on an approval's page. */
import type { AuditRecord } from '../../../server/src/audit/audit-event.js';
import { h } from '../dom.js';
import { who } from '../format.js';

const KIND_TEXT: Record<string, string> = {
  allowed: 'allowed',
  denied: 'denied',
  rate_limited: 'rate limited',
  approval_requested: 'approval requested',
  approval_joined: 'joined approval',
  approval_vote: 'vote',
  approved: 'approved',
  rejected: 'rejected',
  expired: 'expired',
  cancelled: 'cancelled',
  abandoned: 'abandoned',
  executed: 'executed',
  policy_loaded: 'policy loaded',
  policy_refused: 'policy refused',
};

/** Good outcomes green, refusals red, waiting amber; always with the word, never color alone. */
const KIND_TONE: Record<string, string> = {
  allowed: 'good',
  approved: 'good',
  executed: 'good',
  policy_loaded: 'good',
  denied: 'bad',
  rejected: 'bad',
  rate_limited: 'bad',
  expired: 'bad',
  cancelled: 'bad',
  policy_refused: 'bad',
  abandoned: 'wait',
  approval_requested: 'wait',
  approval_joined: 'wait',
  approval_vote: 'wait',
};

export function kindText(kind: string): string {
  return KIND_TEXT[kind] ?? kind;
}

export function kindBadge(kind: string): HTMLElement {
  return h('span', { class: `badge tone-${KIND_TONE[kind] ?? 'none'}` }, kindText(kind));
}

/** One line: who did what, and why or with what result. */
export function eventSummary(record: AuditRecord): string {
  const parts: string[] = [];
  if (record.actor) parts.push(`by ${who(record.actor)}${record.via ? ` via ${record.via}` : ''}`);
  if (record.reason) parts.push(`“${record.reason}”`);
  if (record.upstreamStatus) parts.push(`upstream: ${record.upstreamStatus}${record.durationMs === undefined ? '' : ` in ${Math.round(record.durationMs)} ms`}`);
  if (record.rule && !record.actor) parts.push(`rule ${record.rule}`);
  if (record.kind === 'approval_joined' && record.detail?.joinedCount !== undefined) parts.push(`${String(record.detail.joinedCount)} calls waiting`);
  return parts.join(' · ') || '—';
}
