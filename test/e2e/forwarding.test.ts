/**
 * Faithful forwarding through `airlock serve` with the official SDK v2 client as the agent (2025 era, with a
 * session), against the in-repo test upstream over stdio and over Streamable HTTP.
 */
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { callThenCancel, connectClient, rawCall, startGateway, startHttpUpstream, TEST_UPSTREAM, textOf, tsxCommand, type RunningGateway } from './helpers/gateway.js';

const upstreams = [
  { kind: 'stdio', server: async () => ({ config: tsxCommand(TEST_UPSTREAM), close: async () => undefined }) },
  {
    kind: 'streamable-http',
    server: async () => {
      const upstream = await startHttpUpstream();
      return { config: { url: upstream.url }, close: upstream.close };
    },
  },
  {
    kind: 'legacy SSE',
    server: async () => {
      const upstream = await startHttpUpstream(TEST_UPSTREAM, '--sse');
      return { config: { url: upstream.url, transport: 'sse' }, close: upstream.close };
    },
  },
] as const;

describe.each(upstreams)('forwarding to a $kind upstream', ({ server }) => {
  let gw: RunningGateway;
  let client: Client;
  let closeUpstream: () => Promise<void>;
  const logs: unknown[] = [];
  const updated: string[] = [];

  beforeAll(async () => {
    const upstream = await server();
    closeUpstream = upstream.close;
    gw = await startGateway({ servers: { test: upstream.config } });
    client = await connectClient(`${gw.url}/mcp`, { capabilities: { sampling: {}, elicitation: { form: {} }, roots: { listChanged: true } } });
    client.setRequestHandler('sampling/createMessage', async (request) => ({
      role: 'assistant',
      content: { type: 'text', text: `model saw ${JSON.stringify(request.params.messages[0]?.content)}` },
      model: 'test-model',
    }));
    client.setRequestHandler('elicitation/create', async (request) => ({ action: 'accept', content: { answer: `yes to ${request.params.message}` } }));
    client.setRequestHandler('roots/list', async () => ({ roots: [{ uri: 'file:///work', name: 'work' }] }));
    client.setNotificationHandler('notifications/message', async (n) => void logs.push(n.params.data));
    client.setNotificationHandler('notifications/resources/updated', async (n) => void updated.push(n.params.uri));
  });

  afterAll(async () => {
    await client?.close();
    await gw?.close();
    await closeUpstream?.();
  });

  it('lists tools under server__tool names', async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toContain('test__echo');
    expect(tools.every((t) => t.name.startsWith('test__'))).toBe(true);
  });

  it('keeps unknown fields of results and content blocks byte for byte', async () => {
    const result = await rawCall(client, 'test__echo', { text: 'hi' });
    expect(result).toEqual({ content: [{ type: 'text', text: 'hi', 'x-vendor': { kept: true } }], 'x-result-extra': 42 });
  });

  it('keeps a content block of an unknown type', async () => {
    const result = await rawCall(client, 'test__future_content');
    expect(result.content).toEqual([{ type: 'future_block', payload: { hologram: true } }]);
  });

  it('relays every progress notification under the client’s own token, before the result', async () => {
    const seen: unknown[] = [];
    const result = await rawCall(client, 'test__progress', { steps: 3 }, { onprogress: (p) => void seen.push(p) });
    expect(textOf(result)).toBe('done 3 steps');
    expect(seen).toEqual([1, 2, 3].map((i) => ({ progress: i, total: 3, message: `step ${i}` })));
  });

  it('passes cancellation upstream', async () => {
    await callThenCancel(client, 'user pressed stop');
    await expect.poll(async () => JSON.parse(textOf(await rawCall(client, 'test__stats'))).lastCancel).not.toBe('');
  });

  it('relays sampling, elicitation and roots requests to the client', async () => {
    expect(textOf(await rawCall(client, 'test__sample', { prompt: 'ping' }))).toContain('model saw');
    expect(textOf(await rawCall(client, 'test__elicit', { message: 'deploy?' }))).toContain('yes to deploy?');
    expect(textOf(await rawCall(client, 'test__roots'))).toContain('file:///work');
  });

  it('relays log messages and forwards logging/setLevel', async () => {
    await client.setLoggingLevel('debug');
    await rawCall(client, 'test__log', { message: 'hello log' });
    expect(logs).toContain('hello log');
    expect(JSON.parse(textOf(await rawCall(client, 'test__stats'))).logLevel).toBe('debug');
  });

  it('forwards resources, templates, subscriptions and their updates', async () => {
    const { resources } = await client.listResources();
    expect(resources.map((r) => r.uri)).toEqual(['test://static']);
    const { resourceTemplates } = await client.listResourceTemplates();
    expect(resourceTemplates.map((t) => t.uriTemplate)).toEqual(['test://items/{id}']);
    const read = await client.readResource({ uri: 'test://items/7' });
    expect(read.contents[0]).toMatchObject({ text: 'content of test://items/7' });
    await client.subscribeResource({ uri: 'test://static' });
    await rawCall(client, 'test__touch');
    await expect.poll(() => updated).toContain('test://static');
  });

  it('forwards prompts under server__prompt names and completions', async () => {
    const { prompts } = await client.listPrompts();
    expect(prompts.map((p) => p.name)).toEqual(['test__greet']);
    const prompt = await client.getPrompt({ name: 'test__greet', arguments: { name: 'Ada' } });
    expect(prompt.messages[0]?.content).toMatchObject({ text: 'Hello Ada' });
    const completion = await client.complete({ ref: { type: 'ref/prompt', name: 'test__greet' }, argument: { name: 'name', value: 'A' } });
    expect(completion.completion.values).toEqual(['Ada', 'Alan']);
  });

  it('answers an unknown tool with -32602, like a server without it', async () => {
    await expect(rawCall(client, 'test__nope')).rejects.toMatchObject({ code: -32602 });
    await expect(rawCall(client, 'nobody__echo')).rejects.toMatchObject({ code: -32602, message: expect.stringContaining('Unknown tool') });
  });

  it('exposes one upstream under its own names at /mcp/<server>', async () => {
    const single = await connectClient(`${gw.url}/mcp/test`);
    try {
      const { tools } = await single.listTools();
      expect(tools.map((t) => t.name)).toContain('echo');
      expect(textOf(await rawCall(single, 'echo', { text: 'direct' }))).toBe('direct');
    } finally {
      await single.close();
    }
  });
});
