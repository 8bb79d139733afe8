/**
 * Calls to the gateway's `/api`. The session cookie goes along by itself; state changes add the session's CSRF
 * token. A 401 means the session ended: the browser goes to sign-in and comes back here afterwards.
 */
import type { Approval } from '../../server/src/approval/approval.js';

export type Role = 'viewer' | 'approver' | 'admin';

export interface Session {
  user: { username: string; displayName: string | null; role: Role };
  csrfToken: string | null;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly body: unknown,
  ) {
    super(message);
  }
}

let csrfToken: string | null = null;

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

export function signInUrl(): string {
  return `/sign-in?next=${encodeURIComponent(location.pathname + location.search)}`;
}

export async function api<T>(path: string, init: { method?: string; body?: unknown; redirectOn401?: boolean } = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  if (init.method !== undefined && init.method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  const res = await fetch(`/api${path}`, {
    method: init.method ?? 'GET',
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    credentials: 'same-origin',
  });
  if (res.status === 401 && init.redirectOn401 !== false) {
    location.assign(signInUrl());
    // Never settles: the page is going away.
    return new Promise<T>(() => undefined);
  }
  const text = await res.text();
  const body: unknown = text === '' ? undefined : JSON.parse(text);
  if (!res.ok) {
    const error = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
    throw new ApiError(res.status, error?.code ?? 'ERROR', error?.message ?? `${res.status} ${res.statusText}`, body);
  }
  return body as T;
}

export function decide(id: string, decision: 'approve' | 'reject', reason: string): Promise<{ approval: Approval; final: boolean }> {
  return api(`/approvals/${encodeURIComponent(id)}/decision`, {
    method: 'POST',
    body: reason === '' ? { decision } : { decision, reason },
  });
}
