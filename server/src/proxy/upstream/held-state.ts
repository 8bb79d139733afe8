/**
 * The `requestState` of a held call (see SuspendedCalls): which call, and the URL of the gateway instance holding
 * it, encrypted and authenticated with AES-256-GCM under a key every instance of a deployment shares. A client's
 * retry may reach any instance; the one it reaches reads where the call is held and passes the request there
 * (forward-to-holder.ts). The client can neither read the holder's internal address nor forge or alter a state.
 */
import { randomBytes } from 'node:crypto';

import { AirlockError } from '../../errors/airlock-error.js';
import { openText, sealText } from '../../util/sealed-text.js';

const PREFIX = 'airlock-held.';

export interface HeldState {
  callId: string;
  /** The internal URL of the instance holding the call; absent when that instance has none (see `holder`). */
  holder?: string;
}

export class HeldStateSeal {
  readonly #key: Buffer;
  /**
   * This instance's URL as its peers reach it, sealed into every state it issues. Unset (one process, a stdio
   * gateway, a bind on every interface without `listen.internalUrl`), a retry must come back to this instance.
   */
  holder: string | undefined;

  constructor(key: Buffer = randomBytes(32), holder?: string) {
    if (key.length !== 32) throw new AirlockError('INTERNAL', `a held-call state key is 32 bytes, not ${key.length}`);
    this.#key = key;
    this.holder = holder;
  }

  /** Whether a requestState is one of ours (valid or not): such a request continues a held call. */
  static marks(state: unknown): state is string {
    return typeof state === 'string' && state.startsWith(PREFIX);
  }

  seal(callId: string): string {
    return PREFIX + sealText(this.#key, JSON.stringify(this.holder === undefined ? [callId] : [callId, this.holder]));
  }

  /** What a state says, or undefined for one this deployment did not issue (forged, altered, another key). */
  open(state: string): HeldState | undefined {
    if (!HeldStateSeal.marks(state)) return undefined;
    const plain = openText(this.#key, state.slice(PREFIX.length));
    if (plain === undefined) return undefined;
    const [callId, holder] = JSON.parse(plain) as [string, string?];
    return holder === undefined ? { callId } : { callId, holder };
  }

  /** The instance that holds the call a request continues, when that is another instance than this one. */
  holderElsewhere(body: unknown): string | undefined {
    const state = (body as { params?: { requestState?: unknown } } | null)?.params?.requestState;
    if (!HeldStateSeal.marks(state)) return undefined;
    const holder = this.open(state)?.holder;
    return holder !== undefined && holder !== this.holder ? holder : undefined;
  }
}
