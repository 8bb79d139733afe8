import { EventSourceParserStream } from 'eventsource-parser/stream';
import { describe, expect, it } from 'vitest';

import { type SseEvent, SseParser } from './sse-parser.js';

function parse(...chunks: (string | Buffer)[]): SseEvent[] {
  const events: SseEvent[] = [];
  const parser = new SseParser((event) => events.push(event));
  for (const chunk of chunks) parser.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return events;
}

/** The SDK client's own reading of a stream: a TextDecoderStream into eventsource-parser (an SDK dependency). */
async function parseLikeSdk(bytes: Buffer): Promise<SseEvent[]> {
  const events: SseEvent[] = [];
  const reader = new Blob([new Uint8Array(bytes)]).stream().pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream()).getReader();
  for (let next = await reader.read(); !next.done; next = await reader.read()) {
    events.push({ id: next.value.id, event: next.value.event, data: next.value.data });
  }
  return events;
}

/** Every way of cutting `bytes` into three chunks, at a stride small enough to hit every kind of boundary. */
function* splits(bytes: Buffer): Generator<Buffer[]> {
  for (let i = 0; i <= bytes.length; i += 1) {
    for (let j = i; j <= bytes.length; j += 3) yield [bytes.subarray(0, i), bytes.subarray(i, j), bytes.subarray(j)];
  }
}

describe('SseParser', () => {
  it('dispatches an event at a blank line, with its id and type', () => {
    expect(parse('event: message\nid: 7\ndata: {"a":1}\n\n')).toEqual([{ id: '7', event: 'message', data: '{"a":1}' }]);
  });

  it('joins multi-line data with LF', () => {
    expect(parse('data: one\ndata:two\ndata:  three\n\n')).toEqual([{ id: undefined, event: undefined, data: 'one\ntwo\n three' }]);
  });

  it('accepts CRLF, CR and LF line ends, mixed', () => {
    expect(parse('data: a\r\n\r\ndata: b\r\rdata: c\n\n')).toEqual([
      { id: undefined, event: undefined, data: 'a' },
      { id: undefined, event: undefined, data: 'b' },
      { id: undefined, event: undefined, data: 'c' },
    ]);
  });

  it('does not take a CRLF split between chunks for two line ends', () => {
    expect(parse('data: a\r', '\ndata: b\r\n', '\r', '\n')).toEqual([{ id: undefined, event: undefined, data: 'a\nb' }]);
  });

  it('ignores comments, retry and unknown fields', () => {
    expect(parse(': keepalive\n\nretry: 10\nfoo: bar\ndata: x\n:note\n\n')).toEqual([{ id: undefined, event: undefined, data: 'x' }]);
  });

  it('dispatches nothing for an event without a data line, so its id is dropped too', () => {
    expect(parse('id: 1\n\nevent: ping\n\ndata: y\n\n')).toEqual([{ id: undefined, event: undefined, data: 'y' }]);
  });

  it('dispatches an event whose data line is empty (a priming event)', () => {
    expect(parse('id: p1\ndata: \n\n')).toEqual([{ id: 'p1', event: undefined, data: '' }]);
  });

  it('never dispatches an event the stream ends before terminating', () => {
    expect(parse('data: done\n\ndata: cut', ' off\n')).toEqual([{ id: undefined, event: undefined, data: 'done' }]);
  });

  it('reassembles a multi-byte character split across chunks, and drops a leading BOM', () => {
    const bytes = Buffer.from('\uFEFFdata: h\u00e9llo \u{1F600}\n\n');
    for (let cut = 1; cut < bytes.length; cut += 1) {
      expect(parse(bytes.subarray(0, cut), bytes.subarray(cut))).toEqual([{ id: undefined, event: undefined, data: 'h\u00e9llo \u{1F600}' }]);
    }
  });

  it('reads a long data line arriving in many small chunks', () => {
    const payload = 'x'.repeat(200_000);
    const bytes = Buffer.from(`data: ${payload}\n\n`);
    const chunks: Buffer[] = [];
    for (let at = 0; at < bytes.length; at += 1000) chunks.push(bytes.subarray(at, at + 1000));
    expect(parse(...chunks)).toEqual([{ id: undefined, event: undefined, data: payload }]);
  });

  it('reads every split of a varied stream as the SDK client reads the whole of it', async () => {
    const stream = Buffer.from(
      '\uFEFF: hello\r\nretry: 500\nid: 1\nevent: message\ndata: {"x":"\u00e9\u{1F600}"}\r\n\r\n' +
        'id\ndata\n\nevent:\ndata:a\rdata: b\r\rid: 2\0\ndata: c\n\nid: 3\nunknown: z\ndata:  d\n\n' +
        'event: other\ndata: e\n\ndata: tail',
    );
    const expected = await parseLikeSdk(stream);
    expect(expected.map((event) => event.data)).toEqual(['{"x":"\u00e9\u{1F600}"}', '', 'a\nb', 'c', ' d', 'e']);
    for (const chunks of splits(stream)) expect(parse(...chunks)).toEqual(expected);
  });
});
