/**
 * A client that never opens the standalone GET stream (several real hosts do not) must still receive the
 * sampling and elicitation requests an upstream sends during its call: they travel on the call's own POST
 * stream. The SDK client always opens GET, so this client speaks raw HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startGateway, TEST_UPSTREAM, tsxCommand, type RunningGateway } from './helpers/gateway.js';

type Message = { id?: number | string; method?: string; params?: Record<string, unknown>; result?: Record<string, unknown> };

async function* sseMessages(response: Response): AsyncGenerator<Message> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = event
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).trim())
        .join('');
      if (data !== '') yield JSON.parse(data) as Message;
    }
  }
}

describe('a client without a GET stream', () => {
  let gw: RunningGateway;
  let session = '';
  const post = (body: unknown) =>
    fetch(`${gw.url}/mcp`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': '2025-11-25',
        ...(session ? { 'mcp-session-id': session } : {}),
      },
      body: JSON.stringify(body),
    });

  beforeAll(async () => {
    gw = await startGateway({ servers: { test: tsxCommand(TEST_UPSTREAM) } });
    const init = await post({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: { sampling: {}, elicitation: { form: {} } }, clientInfo: { name: 'raw', version: '1' } },
    });
    session = init.headers.get('mcp-session-id') ?? '';
    await init.text();
    await (await post({ jsonrpc: '2.0', method: 'notifications/initialized' })).text();
  });
  afterAll(async () => {
    await gw?.close();
  });

  it.each([
    ['test__elicit', 'elicitation/create', { action: 'accept', content: { answer: 'raw yes' } }, 'raw yes'],
    ['test__sample', 'sampling/createMessage', { role: 'assistant', content: { type: 'text', text: 'raw model' }, model: 'm' }, 'raw model'],
  ])('receives %s’s %s on the call’s own stream', async (tool, method, answer, expected) => {
    const response = await post({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: tool, arguments: { message: 'q', prompt: 'q' } } });
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const seen: string[] = [];
    for await (const message of sseMessages(response)) {
      if (message.method) {
        seen.push(message.method);
        const reply = await post({ jsonrpc: '2.0', id: message.id, result: answer });
        expect(reply.status).toBe(202);
      } else {
        expect(JSON.stringify(message.result)).toContain(expected);
        break;
      }
    }
    expect(seen).toEqual([method]);
  });
});
