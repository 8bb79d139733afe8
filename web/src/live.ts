/**
 * The one websocket to `/api/stream`, shared by every page: it keeps the queue (every open approval: pending, or
 * abandoned by a gateway that stopped while holding its call) as the server reports it and tells pages about each
 * change. The server greets every connection with the whole queue, so a reconnect is also a resync: whatever
 * happened while the connection was down is reflected at once.
 */
import type { Approval } from '../../server/src/approval/approval.js';
import { isOpen } from '../../server/src/approval/open-statuses.js';
import { api } from './api.js';

export type LiveStatus = 'connecting' | 'live' | 'lost' | 'restored';

export type LiveEvent =
  /** The whole queue was replaced (first hello, or a reconnect). */
  | { type: 'sync' }
  | { type: 'change'; approval: Approval }
  | { type: 'status'; status: LiveStatus };

type ServerMessage = { type: 'hello'; pending: Approval[] } | { type: string; approval: Approval };

const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 10_000;

export class Live {
  readonly #pending = new Map<string, Approval>();
  readonly #listeners = new Set<(event: LiveEvent) => void>();
  #status: LiveStatus = 'connecting';
  #retryMs = RETRY_MIN_MS;
  #everConnected = false;

  constructor() {
    this.#connect();
  }

  get status(): LiveStatus {
    return this.#status;
  }

  /** Oldest first, as the queue shows them. */
  pending(): Approval[] {
    return [...this.#pending.values()].sort((a, b) => a.requestedAt.localeCompare(b.requestedAt) || a.id.localeCompare(b.id));
  }

  subscribe(listener: (event: LiveEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(event: LiveEvent): void {
    for (const listener of [...this.#listeners]) listener(event);
  }

  #setStatus(status: LiveStatus): void {
    this.#status = status;
    this.#emit({ type: 'status', status });
  }

  #connect(): void {
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/stream`);
    ws.addEventListener('message', (event) => this.#receive(JSON.parse(String(event.data)) as ServerMessage));
    ws.addEventListener('close', () => {
      if (this.#status !== 'lost') this.#setStatus('lost');
      void this.#reconnectLater();
    });
  }

  #receive(message: ServerMessage): void {
    if ('pending' in message) {
      this.#pending.clear();
      for (const approval of message.pending) this.#pending.set(approval.id, approval);
      this.#emit({ type: 'sync' });
      this.#setStatus(this.#everConnected ? 'restored' : 'live');
      this.#everConnected = true;
      this.#retryMs = RETRY_MIN_MS;
      return;
    }
    const { approval } = message;
    if (isOpen(approval.status)) this.#pending.set(approval.id, approval);
    else this.#pending.delete(approval.id);
    this.#emit({ type: 'change', approval });
  }

  async #reconnectLater(): Promise<void> {
    // A refused upgrade looks like any other drop to a browser: ask whether the session still holds, so an expired
    // one goes to sign-in (api() redirects on 401) instead of retrying forever.
    await api('/session').catch(() => undefined);
    const wait = this.#retryMs;
    this.#retryMs = Math.min(RETRY_MAX_MS, this.#retryMs * 2);
    setTimeout(() => this.#connect(), wait);
  }
}
