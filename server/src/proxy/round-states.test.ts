import { randomBytes } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { AirlockError } from '../errors/airlock-error.js';
import type { LimitStore } from '../limits/limit-store.js';
import { MemoryLimitStore } from '../limits/memory-limit-store.js';
import type { ToolCall } from '../pipeline/tool-call.js';
import { ManualClock } from '../util/clock.js';
import { HeldStateSeal } from './upstream/held-state.js';
import { ROUND_STATE_TTL_MS, RoundStates } from './round-states.js';

const key = randomBytes(32);
const call: ToolCall = {
  callId: 'call-1',
  exposedName: 'm__confirm',
  server: 'm',
  tool: 'confirm',
  args: { question: 'go?', n: 1 },
  params: { name: 'confirm', arguments: { question: 'go?', n: 1 } },
  caller: { grant: 'alice' },
};
const question = { resultType: 'input_required', inputRequests: { answer: { method: 'elicitation/create' } }, requestState: 'round-1' };

function rounds(claims: LimitStore = new MemoryLimitStore()) {
  const clock = new ManualClock();
  return { clock, states: new RoundStates(key, clock, claims) };
}

const stateOf = (result: Record<string, unknown>) => String(result.requestState);

describe('RoundStates', () => {
  it('seals the upstream state, keeps the rest of the result, and gives back the admitted call on a matching retry', async () => {
    const { states } = rounds();
    const wrapped = states.wrap(question, call, 'approval-7');
    expect(wrapped).toMatchObject({ resultType: 'input_required', inputRequests: question.inputRequests });
    expect(stateOf(wrapped)).not.toContain('round-1');
    expect(RoundStates.marks(wrapped.requestState)).toBe(true);
    // Same arguments in another key order are the same arguments.
    const retry = { ...call, callId: 'call-2', args: { n: 1, question: 'go?' } };
    expect(await states.unwrap(stateOf(wrapped), retry)).toEqual({ callId: 'call-1', approvalId: 'approval-7', upstreamState: 'round-1' });
  });

  it('seals a question the upstream asked without requestState, and gives none back', async () => {
    const { states } = rounds();
    const { requestState: _none, ...bare } = question;
    expect(await states.unwrap(stateOf(states.wrap(bare, call, undefined)), call)).toEqual({ callId: 'call-1' });
  });

  it('opens on another instance of the deployment (same key), not under another key', async () => {
    const state = stateOf(rounds().states.wrap(question, call, undefined));
    await expect(rounds().states.unwrap(state, call)).resolves.toMatchObject({ upstreamState: 'round-1' });
    await expect(new RoundStates(randomBytes(32), new ManualClock(), new MemoryLimitStore()).unwrap(state, call)).rejects.toMatchObject({
      data: { airlock: { reason: 'altered' } },
    });
  });

  it('does not open a held-call state under its key, nor one relabelled as a round state', async () => {
    const held = new HeldStateSeal(key).seal('call-1');
    await expect(rounds().states.unwrap(`airlock-round.${held.slice('airlock-held.'.length)}`, call)).rejects.toMatchObject({
      data: { airlock: { reason: 'altered' } },
    });
  });

  it.each([
    ['other_grant', { caller: { grant: 'mallory' } }, 'requestState was issued to another caller'],
    ['other_tool', { tool: 'echo' }, 'requestState continues a call of tool "confirm" on server "m", not of "echo" on "m"'],
    ['other_tool', { server: 'n' }, 'not of "confirm" on "n"'],
    ['other_arguments', { args: { question: 'go?', n: 2 } }, 'with other arguments'],
  ] as const)('refuses a retry by %s (%j)', async (reason, change, message) => {
    const { states } = rounds();
    const state = stateOf(states.wrap(question, call, undefined));
    await expect(states.unwrap(state, { ...call, ...change })).rejects.toMatchObject({
      code: -32602,
      message: expect.stringContaining(message),
      data: { airlock: { code: 'REQUEST_STATE_REFUSED', reason } },
    });
    // A refused retry does not use the state up.
    await expect(states.unwrap(state, call)).resolves.toMatchObject({ callId: 'call-1' });
  });

  it('refuses a state answered after its lifetime, on the injected clock', async () => {
    const { clock, states } = rounds();
    const state = stateOf(states.wrap(question, call, undefined));
    clock.advance(ROUND_STATE_TTL_MS);
    await expect(states.unwrap(state, call)).rejects.toMatchObject({ message: expect.stringContaining('requestState expired'), data: { airlock: { reason: 'expired' } } });
  });

  it('continues a call once per state: a replay would run the admitted call again', async () => {
    const { states } = rounds();
    const state = stateOf(states.wrap(question, call, undefined));
    await states.unwrap(state, call);
    await expect(states.unwrap(state, call)).rejects.toMatchObject({ message: expect.stringContaining('requestState was used already'), data: { airlock: { reason: 'used' } } });
  });

  it('blames the gateway, not the caller, when it cannot tell whether a state was used', async () => {
    const down: LimitStore = {
      consume: () => Promise.reject(new AirlockError('LIMITER_UNAVAILABLE', 'Redis is unreachable')),
      refund: () => Promise.resolve(),
      close: () => Promise.resolve(),
    };
    const { states } = rounds(down);
    await expect(states.unwrap(stateOf(states.wrap(question, call, undefined)), call)).rejects.toMatchObject({
      code: -32603,
      message: expect.stringContaining('Redis is unreachable'),
    });
  });
});
