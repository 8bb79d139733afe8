/**
 * 2026 requests have no session, so every 2026 client shares the gateway's one link per upstream. A 2025 upstream
 * asking mid-call must reach the client whose call asked, never another client with a call in flight: the question
 * would leak, and the other client's answer would decide the first one's call.
 */
import { createHash } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { connectClient, rawCall, startGateway, startHttpUpstream, TEST_UPSTREAM, textOf, tsxCommand, type RunningGateway } from './helpers/gateway.js';

const sha256 = (key: string) => createHash('sha256').update(key).digest('hex');
const grants = [
  { name: 'alice', key_sha256: sha256('alice-key') },
  { name: 'bob', key_sha256: sha256('bob-key') },
];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Alice's call asks her a question 500 ms in; Bob's call starts 100 ms in and is still running when she is asked.
 * Returns what Alice's call ended with and the questions each client was asked.
 */
async function aliceAskedWhileBobWaits(gw: RunningGateway): Promise<{ alice: string; asked: { alice: string[]; bob: string[] } }> {
  const asked = { alice: [] as string[], bob: [] as string[] };
  const clients = await Promise.all(
    (['alice', 'bob'] as const).map(async (name) => {
      const client = await connectClient(`${gw.url}/mcp`, { modern: true, apiKey: `${name}-key`, capabilities: { elicitation: {} } });
      client.setRequestHandler('elicitation/create', async (request) => {
        asked[name].push(String(request.params.message));
        return { action: 'accept', content: { answer: `${name} answers` } };
      });
      return client;
    }),
  );
  const [alice, bob] = clients as [(typeof clients)[0], (typeof clients)[0]];
  const bobLeaves = new AbortController();
  try {
    const aliceCall = rawCall(alice, 'test__elicit', { message: 'ALICE-SECRET: wire $1M?', delayMs: 500 }, { timeout: 20_000 }).then(textOf, (error: Error) => `error: ${error.message}`);
    await sleep(100);
    const bobCall = rawCall(bob, 'test__wait_for_cancel', {}, { signal: bobLeaves.signal }).catch(() => undefined);
    const result = await aliceCall;
    bobLeaves.abort();
    await bobCall;
    return { alice: result, asked };
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
}

describe('two 2026 clients, one stdio upstream that asks without saying for which call', () => {
  let gw: RunningGateway;

  beforeAll(async () => {
    gw = await startGateway({ servers: { test: tsxCommand(TEST_UPSTREAM) }, grants });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('asks neither client and fails the upstream\'s question rather than guess whose it is', async () => {
    const { alice, asked } = await aliceAskedWhileBobWaits(gw);
    expect(asked).toEqual({ alice: [], bob: [] });
    expect(alice).toContain('Cannot relay elicitation/create: Airlock cannot tell which of the 2 calls in flight on upstream "test" it belongs to');
  });
});

describe('two 2026 clients, one HTTP upstream that asks on the stream of the call', () => {
  let gw: RunningGateway;
  let upstream: Awaited<ReturnType<typeof startHttpUpstream>>;

  beforeAll(async () => {
    upstream = await startHttpUpstream();
    gw = await startGateway({ servers: { test: { url: upstream.url } }, grants });
  });
  afterAll(async () => {
    await gw?.close();
    await upstream?.close();
  });

  it('asks the client whose call the stream belongs to, and only that client', async () => {
    const { alice, asked } = await aliceAskedWhileBobWaits(gw);
    expect(asked).toEqual({ alice: ['ALICE-SECRET: wire $1M?'], bob: [] });
    expect(alice).toBe('elicited: {"action":"accept","content":{"answer":"alice answers"}}');
  });
});
