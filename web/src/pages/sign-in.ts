/**
 * Sign-in, and the one-time setup of the first admin (`/setup#token=…`, printed by `airlock serve` when there is
 * no admin). Both end on the page the browser was going to, or the queue.
 */
import { api, ApiError } from '../api.js';
import { h, replace, uid } from '../dom.js';

export function signInPage(root: HTMLElement): void {
  document.title = 'Sign in · Airlock';
  const username = input('username', 'Username', { autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false', required: true });
  const password = input('password', 'Password', { type: 'password', autocomplete: 'current-password', required: true });
  const error = h('p', { class: 'error', role: 'alert' });
  const form = h(
    'form',
    { class: 'panel sign-in', 'aria-labelledby': 'sign-in-title' },
    h('h1', { id: 'sign-in-title' }, 'Sign in to Airlock'),
    username.field,
    password.field,
    error,
    h('button', { type: 'submit', class: 'button primary wide' }, 'Sign in'),
    h('p', { class: 'muted small' }, 'Accounts are created with ', h('code', {}, 'airlock user add'), '. The admin token signs in as ', h('code', {}, 'admin'), '.'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    error.textContent = '';
    void api('/auth/sign-in', { method: 'POST', body: { username: username.control.value.trim(), password: password.control.value }, redirectOn401: false })
      .then(() => location.assign(nextPath()))
      .catch((thrown: unknown) => {
        error.textContent = thrown instanceof ApiError ? thrown.message : 'The gateway could not be reached; try again.';
        password.control.select();
      });
  });
  replace(root, h('main', { id: 'main', class: 'narrow' }, form));
  username.control.focus();
}

export function setupPage(root: HTMLElement): void {
  document.title = 'Set up · Airlock';
  const token = new URLSearchParams(location.hash.slice(1)).get('token') ?? '';
  // Out of the address bar and the history once read.
  history.replaceState(null, '', '/setup');
  const username = input('username', 'Admin username', { autocomplete: 'username', autocapitalize: 'none', required: true, value: 'admin' });
  const displayName = input('display-name', 'Your name (optional)', { autocomplete: 'name' });
  const password = input('password', 'Password (at least 10 characters)', { type: 'password', autocomplete: 'new-password', minlength: 10, required: true });
  const again = input('password-again', 'Password again', { type: 'password', autocomplete: 'new-password', required: true });
  const error = h('p', { class: 'error', role: 'alert' }, token === '' ? 'This page needs the link that `airlock serve` printed.' : '');
  const form = h(
    'form',
    { class: 'panel sign-in', 'aria-labelledby': 'setup-title' },
    h('h1', { id: 'setup-title' }, 'Create the first admin'),
    h('p', { class: 'muted' }, 'This link works once. Other people are added later with ', h('code', {}, 'airlock user add'), '.'),
    username.field,
    displayName.field,
    password.field,
    again.field,
    error,
    h('button', { type: 'submit', class: 'button primary wide' }, 'Create admin and sign in'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (password.control.value !== again.control.value) {
      error.textContent = 'The two passwords differ.';
      again.control.focus();
      return;
    }
    const body = { token, username: username.control.value.trim(), password: password.control.value, ...(displayName.control.value.trim() ? { displayName: displayName.control.value.trim() } : {}) };
    void api('/auth/setup', { method: 'POST', body, redirectOn401: false })
      .then(() => location.assign('/'))
      .catch((thrown: unknown) => {
        error.textContent = thrown instanceof ApiError ? thrown.message : 'The gateway could not be reached; try again.';
      });
  });
  replace(root, h('main', { id: 'main', class: 'narrow' }, form));
}

function input(name: string, label: string, attrs: Record<string, string | number | boolean>): { field: HTMLElement; control: HTMLInputElement } {
  const id = uid(name);
  const control = h('input', { id, name, type: 'text', ...attrs });
  return { field: h('div', { class: 'field' }, h('label', { for: id }, label), control), control };
}

/**
 * Where to go after signing in: only a page of this site. Resolved the way the browser will resolve it, because
 * prefix checks miss spellings the URL parser rewrites (it drops tabs and line breaks, so `/<tab>/evil.example`
 * is `//evil.example`).
 */
function nextPath(): string {
  const next = new URL(new URLSearchParams(location.search).get('next') ?? '/', location.origin);
  return next.origin === location.origin ? `${next.pathname}${next.search}${next.hash}` : '/';
}
