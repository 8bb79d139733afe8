/**
 * A human answering what the upstream asked mid-call (elicitation) may take longer than the upstream's timeout:
 * the upstream is waiting on the human then, not silent, so the call survives and gets the upstream's result.
 * Silence after the answer still times out, with the same message as ever. The gateway's timers run on a faked
 * clock: the human's pause is time moved, not waited for.
 */
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';

import { connectClient, passthrough, rawCall, startGateway, startHttpUpstream, TEST_UPSTREAM, textOf, tsxCommand, type RunningGateway } from './helpers/gateway.js';

/** Longer than the upstream's 1 s timeout, far shorter than a relay's own bound. */
const HUMAN_PAUSE_MS = 5_000;
const ACCEPTED = { action: 'accept' as const, content: { answer: 'slow human' } };
const ELICITED = `elicited: ${JSON.stringify(ACCEPTED)}`;
const TIMED_OUT = 'Upstream "test" did not answer tools/call within 1s';

/**
 * Starts a call whose upstream goes silent once it has the answer (it reports progress then) and checks that the
 * call times out one timeout after that, with the usual message.
 */
async function expectTimeoutAfterAnswer(start: (onprogress: () => void) => Promise<unknown>): Promise<void> {
  let heardBack: () => void = () => undefined;
  const answered = new Promise<void>((resolve) => (heardBack = resolve));
  const call = start(() => heardBack());
  const outcome = expect(call).rejects.toMatchObject({ code: -32603, message: expect.stringContaining(TIMED_OUT) });
  // A call that ends before the answer reached the upstream fails here, with its own error.
  await Promise.race([answered, call]);
  await vi.advanceTimersByTimeAsync(1_000);
  await outcome;
}

// stdio: the upstream's question names no call, so it goes with the one in flight. HTTP: it arrives on the stream
// of the request it belongs to.
describe.each(['stdio', 'http'] as const)('an upstream over %s with a 1 s timeout, asking mid-call', (kind) => {
  let gw: RunningGateway;
  let upstream: { url: string; close(): Promise<void> } | undefined;
  const clients: Client[] = [];
  const connect = async (options: Parameters<typeof connectClient>[1]) => {
    const client = await connectClient(`${gw.url}/mcp`, options);
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    upstream = kind === 'http' ? await startHttpUpstream() : undefined;
    gw = await startGateway({ servers: { test: { ...(upstream ? { url: upstream.url } : tsxCommand(TEST_UPSTREAM)), timeout: '1s' } } });
  });
  afterEach(async () => {
    vi.useRealTimers();
    await Promise.all(clients.splice(0).map((client) => client.close()));
  });
  afterAll(async () => {
    await gw?.close();
    await upstream?.close();
  });

  describe('when a 2025 session\'s human answers the elicitation after the timeout', () => {
    /** A 2025 client whose human answers each elicitation HUMAN_PAUSE_MS later, on the faked clock. */
    const slowHuman = async () => {
      const client = await connect({ capabilities: { elicitation: { form: {} } } });
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
      client.setRequestHandler('elicitation/create', async () => {
        await vi.advanceTimersByTimeAsync(HUMAN_PAUSE_MS);
        return ACCEPTED;
      });
      return client;
    };

    it('gets the upstream\'s result', async () => {
      const client = await slowHuman();
      expect(textOf(await rawCall(client, 'test__elicit', { message: 'Proceed?' }))).toBe(ELICITED);
    });

    it('still times out, with the usual message, when the upstream is silent after the answer', async () => {
      const client = await slowHuman();
      await expectTimeoutAfterAnswer((onprogress) => rawCall(client, 'test__elicit', { message: 'Proceed?', then: 'wait_for_cancel' }, { onprogress }));
    });
  });

  describe('when a 2026 client answers input_required after the timeout', () => {
    const call = (client: Client, params: Record<string, unknown>, options: Parameters<Client['request']>[2] = {}) =>
      client.request({ method: 'tools/call', params: { name: 'test__elicit', ...params } }, passthrough, options) as Promise<Record<string, unknown>>;

    it('gets the upstream\'s result from the held call', async () => {
      const client = await connect({ modern: true, capabilities: { elicitation: {} } });
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
      const args = { message: 'Later?' };
      const first = await call(client, { arguments: args }, { allowInputRequired: true });
      expect(first).toMatchObject({ resultType: 'input_required', inputRequests: { 'input-1': { method: 'elicitation/create' } } });
      await vi.advanceTimersByTimeAsync(HUMAN_PAUSE_MS);
      const answered = await call(client, { arguments: args, inputResponses: { 'input-1': ACCEPTED }, requestState: first.requestState });
      expect(textOf(answered)).toBe(ELICITED);
    });

    it('still times out, with the usual message, when the upstream is silent after the answer', async () => {
      const client = await connect({ modern: true, capabilities: { elicitation: {} } });
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
      const args = { message: 'Later?', then: 'wait_for_cancel' };
      const first = await call(client, { arguments: args }, { allowInputRequired: true });
      await vi.advanceTimersByTimeAsync(HUMAN_PAUSE_MS);
      await expectTimeoutAfterAnswer((onprogress) => call(client, { arguments: args, inputResponses: { 'input-1': ACCEPTED }, requestState: first.requestState }, { onprogress }));
    });
  });
});
