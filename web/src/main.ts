/**
 * The review console in the browser: signs in, then draws the page the path names inside one shell (navigation,
 * who is signed in, the live-connection notice). Navigation between pages happens without reloading, so the
 * websocket and the queue it keeps stay up.
 */
import './styles.css';

import { api, type Session, setCsrfToken, signInUrl } from './api.js';
import type { Context, Page } from './context.js';
import { h, replace } from './dom.js';
import { startTicker } from './format.js';
import { Live, type LiveStatus } from './live.js';
import { approvalPage } from './pages/approval.js';
import { historyPage } from './pages/history.js';
import { policyPage } from './pages/policy.js';
import { queuePage } from './pages/queue.js';
import { setupPage, signInPage } from './pages/sign-in.js';

const ROUTES: [RegExp, Page, string][] = [
  [/^\/$/, queuePage, '/'],
  [/^\/approvals\/([^/]+)\/?$/, approvalPage, '/'],
  [/^\/history\/?$/, historyPage, '/history'],
  [/^\/policy\/?$/, policyPage, '/policy'],
];

const NAV: [string, string][] = [
  ['/', 'Queue'],
  ['/history', 'History'],
  ['/policy', 'Policy'],
];

async function boot(root: HTMLElement): Promise<void> {
  if (/^\/sign-in\/?$/.test(location.pathname)) return signInPage(root);
  if (/^\/setup\/?$/.test(location.pathname)) return setupPage(root);
  const session = await api<Session>('/session');
  setCsrfToken(session.csrfToken);
  startShell(root, session);
}

function startShell(root: HTMLElement, session: Session): void {
  const live = new Live();
  const main = h('main', { id: 'main', tabindex: -1 });
  const notice = h('div', { class: 'notice', role: 'status', 'aria-live': 'polite', hidden: true });
  const links = NAV.map(([path, label]) => h('a', { href: path, 'data-nav': true }, label));
  const signOut = h('button', { type: 'button', class: 'button quiet small' }, 'Sign out');
  signOut.addEventListener('click', () => {
    void api('/auth/sign-out', { method: 'POST' }).finally(() => location.assign('/sign-in'));
  });
  const { user } = session;
  replace(
    root,
    h(
      'header',
      { class: 'shell' },
      h('a', { class: 'brand', href: '/', 'data-nav': true }, 'Airlock'),
      h('nav', { 'aria-label': 'Console' }, links),
      h('div', { class: 'user' }, h('span', {}, user.displayName ?? user.username, ' ', h('span', { class: 'role' }, user.role)), signOut),
    ),
    notice,
    main,
  );

  live.subscribe((event) => {
    if (event.type === 'status') showStatus(notice, event.status);
  });

  let leave: (() => void) | void;
  const context: Context = {
    session,
    live,
    canDecide: user.role !== 'viewer',
    navigate(path) {
      history.pushState(null, '', path);
      render();
    },
  };
  const render = () => {
    leave?.();
    const path = location.pathname;
    const match = ROUTES.map(([pattern, page, nav]) => ({ found: pattern.exec(path), page, nav })).find((route) => route.found);
    for (const link of links) {
      if (link.getAttribute('href') === match?.nav) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
    if (!match?.found) {
      document.title = 'Not found · Airlock';
      replace(main, h('h1', {}, 'Not found'), h('p', {}, h('a', { href: '/', 'data-nav': true }, 'Back to the queue')));
      return;
    }
    leave = match.page(main, context, match.found.slice(1).map(decodeURIComponent));
  };

  // Links marked data-nav change pages in place; modified clicks (new tab, download) stay the browser's.
  document.addEventListener('click', (event) => {
    const link = (event.target as Element | null)?.closest?.('a[data-nav]');
    if (!(link instanceof HTMLAnchorElement) || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    if (link.pathname !== location.pathname || link.search !== location.search) context.navigate(link.pathname + link.search);
    // Keyboard and screen-reader users land on the new content, not on the link they left.
    main.focus({ preventScroll: true });
  });
  window.addEventListener('popstate', render);
  startTicker();
  render();
}

let hideTimer: ReturnType<typeof setTimeout> | undefined;
function showStatus(notice: HTMLElement, status: LiveStatus): void {
  clearTimeout(hideTimer);
  if (status === 'lost') {
    notice.className = 'notice warn';
    notice.textContent = 'Live updates interrupted — reconnecting…';
    notice.hidden = false;
  } else if (status === 'restored') {
    notice.className = 'notice ok';
    notice.textContent = 'Reconnected — the queue is up to date.';
    notice.hidden = false;
    hideTimer = setTimeout(() => (notice.hidden = true), 5000);
  }
}

const root = document.getElementById('app');
if (root) {
  boot(root).catch((error: unknown) => {
    replace(root, h('main', { id: 'main', class: 'narrow' }, h('h1', {}, 'The console could not start'), h('p', {}, String((error as Error).message)), h('p', {}, h('a', { href: signInUrl() }, 'Sign in again'))));
  });
}
