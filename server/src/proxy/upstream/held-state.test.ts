import { randomBytes } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { HeldStateSeal } from './held-state.js';

describe('HeldStateSeal', () => {
  const key = randomBytes(32);

  it('opens what it sealed, with the holder it named then', () => {
    const seal = new HeldStateSeal(key, 'http://10.0.0.5:8787');
    const state = seal.seal('call-1');
    seal.holder = 'http://10.0.0.6:8787';
    expect(new HeldStateSeal(key).open(state)).toEqual({ callId: 'call-1', holder: 'http://10.0.0.5:8787' });
    expect(new HeldStateSeal(key).open(new HeldStateSeal(key).seal('call-2'))).toEqual({ callId: 'call-2' });
  });

  it('does not show the holder or the call id to whoever holds the state', () => {
    const state = new HeldStateSeal(key, 'http://airlock-internal-7:8787').seal('6f1c2b9e-call');
    expect(HeldStateSeal.marks(state)).toBe(true);
    expect(Buffer.from(state.slice('airlock-held.'.length), 'base64url').toString('latin1')).not.toMatch(/airlock-internal|6f1c2b9e/);
  });

  it('refuses a state altered anywhere, sealed under another key, or not one of ours', () => {
    const seal = new HeldStateSeal(key, 'http://10.0.0.5:8787');
    const state = seal.seal('call-1');
    const body = state.slice('airlock-held.'.length);
    for (let i = 0; i < body.length; i += 7) {
      const flipped = body.slice(0, i) + (body[i] === 'A' ? 'B' : 'A') + body.slice(i + 1);
      expect(seal.open(`airlock-held.${flipped}`)).toBeUndefined();
    }
    expect(new HeldStateSeal(randomBytes(32)).open(state)).toBeUndefined();
    expect(seal.open('airlock-held.nope.forged')).toBeUndefined();
    expect(seal.open('airlock-held.')).toBeUndefined();
    expect(seal.open('someone-else')).toBeUndefined();
  });

  it('names the holder of a request\'s call only when another instance holds it', () => {
    const here = new HeldStateSeal(key, 'http://10.0.0.5:8787');
    const there = new HeldStateSeal(key, 'http://10.0.0.6:8787');
    const request = (requestState: unknown) => ({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'x', requestState } });
    expect(there.holderElsewhere(request(here.seal('call-1')))).toBe('http://10.0.0.5:8787');
    expect(here.holderElsewhere(request(here.seal('call-1')))).toBeUndefined();
    expect(there.holderElsewhere(request(new HeldStateSeal(key).seal('call-1')))).toBeUndefined();
    expect(there.holderElsewhere(request(new HeldStateSeal(randomBytes(32), 'http://evil.example').seal('call-1')))).toBeUndefined();
    expect(there.holderElsewhere(request(42))).toBeUndefined();
    expect(there.holderElsewhere({ jsonrpc: '2.0', id: 1, method: 'ping' })).toBeUndefined();
    expect(there.holderElsewhere(null)).toBeUndefined();
    expect(there.holderElsewhere([request(here.seal('call-1'))])).toBeUndefined();
  });

  it('takes only a 32-byte key', () => {
    expect(() => new HeldStateSeal(randomBytes(16))).toThrow('a held-call state key is 32 bytes, not 16');
  });
});
