import { PassThrough, Readable } from 'node:stream';

import { describe, expect, it } from 'vitest';

import { mediaType, readText } from './http-body.js';

describe('readText', () => {
  it('joins the chunks as UTF-8, a character split across chunks included, and drops a byte order mark', async () => {
    const snowman = Buffer.from('☃');
    const body = Readable.from([Buffer.from('\uFEFF{"a":"'), snowman.subarray(0, 1), snowman.subarray(1), Buffer.from('"}')], { objectMode: false });
    expect(await readText(body)).toBe('{"a":"☃"}');
    expect(await readText(Readable.from([], { objectMode: false }))).toBe('');
  });

  it('rejects a body that fails or closes before its end', async () => {
    const failing = new PassThrough();
    const failed = readText(failing);
    failing.write('{"partial":');
    failing.destroy(new Error('socket hang up'));
    await expect(failed).rejects.toThrow('socket hang up');

    const closing = new PassThrough();
    const closed = readText(closing);
    closing.write('{"partial":');
    closing.destroy();
    await expect(closed).rejects.toThrow('closed before its end');
  });
});

describe('mediaType', () => {
  it('reads the essence of a Content-Type header', () => {
    expect(mediaType('Application/JSON; charset=utf-8')).toBe('application/json');
    expect(mediaType(undefined)).toBeUndefined();
    expect(mediaType('text/html, application/json')).toBeUndefined();
  });
});
