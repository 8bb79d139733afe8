import { describe, expect, it } from 'vitest';

import type { Result } from '../sdk.js';
import { fulfilInputRequired, type InputRequiredRelay, type InputRound, MAX_INPUT_ROUNDS } from './input-required.js';

const elicit = (mode?: 'url') => ({
  method: 'elicitation/create',
  params: mode === 'url' ? { mode, message: 'open', url: 'https://example.com/x' } : { message: 'ok?', requestedSchema: { type: 'object', properties: {} } },
});

function relay(overrides: Partial<InputRequiredRelay> & Pick<InputRequiredRelay, 'retry'>): InputRequiredRelay {
  return { upstream: 'up', method: 'tools/call', capabilities: { elicitation: {}, roots: {} }, ask: async () => ({ action: 'accept' }), ...overrides };
}

describe('fulfilInputRequired', () => {
  it('asks the client, then retries with the answers and the request state until the result is complete', async () => {
    const asked: unknown[] = [];
    const rounds: InputRound[] = [];
    const result = await fulfilInputRequired(
      { resultType: 'input_required', inputRequests: { a: elicit(), r: { method: 'roots/list' } }, requestState: 's1' },
      relay({
        ask: async (request) => {
          asked.push(request);
          return request.method === 'roots/list' ? { roots: [] } : { action: 'accept' };
        },
        retry: async (round) => {
          rounds.push(round);
          return { content: [], 'x-kept': 1 };
        },
      }),
    );
    expect(result).toEqual({ content: [], 'x-kept': 1 });
    expect(asked).toEqual([elicit(), { method: 'roots/list' }]);
    expect(rounds).toEqual([{ inputResponses: { a: { action: 'accept' }, r: { roots: [] } }, requestState: 's1' }]);
  });

  it('gives a URL elicitation the elicitationId a 2025 client needs', async () => {
    const asked: { params?: Record<string, unknown> }[] = [];
    await fulfilInputRequired(
      { resultType: 'input_required', inputRequests: { u: elicit('url') } },
      relay({
        capabilities: { elicitation: { url: {} } },
        ask: async (request) => {
          asked.push(request);
          return { action: 'accept' };
        },
        retry: async () => ({ content: [] }),
      }),
    );
    expect(asked[0]?.params).toMatchObject({ mode: 'url', url: 'https://example.com/x', elicitationId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
  });

  it('fails with the missing capability named before asking anything', async () => {
    let asked = false;
    const attempt = fulfilInputRequired(
      { resultType: 'input_required', inputRequests: { s: { method: 'sampling/createMessage', params: { messages: [], maxTokens: 1 } } } },
      relay({ ask: async () => ((asked = true), {}), retry: async () => ({}) }),
    );
    await expect(attempt).rejects.toMatchObject({
      code: -32021,
      message: 'Upstream "up" needs input \'s\' through sampling/createMessage to finish tools/call, but this client did not declare the "sampling" capability',
    });
    expect(asked).toBe(false);
    await expect(
      fulfilInputRequired({ resultType: 'input_required', inputRequests: { u: elicit('url') } }, relay({ retry: async () => ({}) })),
    ).rejects.toMatchObject({ code: -32021, message: expect.stringContaining('"elicitation.url" capability') });
  });

  it('rejects an embedded request of a kind MRTR does not define', async () => {
    await expect(
      fulfilInputRequired({ resultType: 'input_required', inputRequests: { p: { method: 'ping' } } }, relay({ retry: async () => ({}) })),
    ).rejects.toMatchObject({ code: -32603, message: 'Upstream "up" asked for input \'p\' of an unknown kind (ping)' });
  });

  it('abandons an upstream that keeps asking after the bound on rounds', async () => {
    let retries = 0;
    const again: Result = { resultType: 'input_required', inputRequests: { r: { method: 'roots/list' } } };
    await expect(
      fulfilInputRequired(again, relay({ ask: async () => ({ roots: [] }), retry: async () => ((retries += 1), again) })),
    ).rejects.toMatchObject({ message: `Upstream "up" still asked for input after ${MAX_INPUT_ROUNDS} rounds of tools/call; the call was abandoned` });
    expect(retries).toBe(MAX_INPUT_ROUNDS);
  });
});
