/** How times, durations and a call's arguments read in the console. */
import { h } from './dom.js';

export function duration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${String(seconds % 60).padStart(2, '0')} s`;
  const hours = Math.floor(minutes / 60);
  return hours < 48 ? `${hours} h ${String(minutes % 60).padStart(2, '0')} min` : `${Math.floor(hours / 24)} days`;
}

export function timeLeftText(expiresAt: string, now = Date.now()): string {
  const left = Date.parse(expiresAt) - now;
  return left <= 0 ? 'expiring' : `${duration(left)} left`;
}

/** A `<time>` showing local date and time, with the exact instant for screen readers and hovering. */
export function timeElement(iso: string, style: 'medium' | 'short' = 'medium'): HTMLTimeElement {
  const date = new Date(iso);
  return h('time', { datetime: iso, title: iso }, date.toLocaleString(undefined, { dateStyle: style, timeStyle: 'medium' }));
}

/** A countdown the ticker keeps current; marked urgent in the last minute. */
export function countdown(expiresAt: string): HTMLElement {
  const element = h('span', { class: 'countdown', 'data-expires': expiresAt });
  tick(element, Date.now());
  return element;
}

function tick(element: HTMLElement, now: number): void {
  const expiresAt = element.dataset.expires ?? '';
  element.textContent = timeLeftText(expiresAt, now);
  element.classList.toggle('urgent', Date.parse(expiresAt) - now < 60_000);
}

/** "12 s ago", kept current by the ticker; the exact time is in the title and the datetime attribute. */
export function ago(iso: string): HTMLTimeElement {
  const element = h('time', { datetime: iso, title: new Date(iso).toLocaleString(), 'data-since': iso });
  element.textContent = agoText(iso, Date.now());
  return element;
}

function agoText(iso: string, now: number): string {
  const since = now - Date.parse(iso);
  return since < 1000 ? 'just now' : `${duration(since).replace(/ \d+ s$/, '')} ago`;
}

/** Updates every countdown and "… ago" on the page once a second. */
export function startTicker(): void {
  setInterval(() => {
    const now = Date.now();
    document.querySelectorAll<HTMLElement>('[data-expires]').forEach((element) => tick(element, now));
    document.querySelectorAll<HTMLElement>('[data-since]').forEach((element) => {
      element.textContent = agoText(element.dataset.since ?? '', now);
    });
  }, 1000);
}

const MAX_SHOWN_CHARS = 4000;
const HASHED = /^sha256:[0-9a-f]{64}$/;

/**
 * Arguments as the approval stores them (redacted as in Slack and the audit log): one row per top-level key.
 * A hashed value says that only its fingerprint was kept; a redacted one that it was a secret.
 */
export function argumentsView(args: Record<string, unknown>): HTMLElement {
  const keys = Object.keys(args);
  if (keys.length === 0) return h('p', { class: 'muted' }, 'No arguments.');
  return h(
    'dl',
    { class: 'args' },
    keys.flatMap((key) => [h('dt', {}, key), h('dd', {}, valueView(args[key]))]),
  );
}

function valueView(value: unknown): HTMLElement {
  if (typeof value === 'string' && HASHED.test(value)) {
    return h('span', { class: 'hashed', title: value }, `value not kept · ${value.slice(0, 19)}…`);
  }
  if (value === '[REDACTED]') return h('span', { class: 'redacted' }, 'secret, redacted');
  const text = typeof value === 'string' ? value : JSON.stringify(value, null, 2);
  const shown = text.length > MAX_SHOWN_CHARS ? `${text.slice(0, MAX_SHOWN_CHARS)}… (${text.length - MAX_SHOWN_CHARS} more characters)` : text;
  return h('pre', {}, shown);
}

/** `web:alice` → `alice`; Slack ids and `system` stay as they are. */
export function who(actor: string | null | undefined): string {
  if (!actor) return 'unknown';
  return actor.startsWith('web:') ? actor.slice(4) : actor;
}
