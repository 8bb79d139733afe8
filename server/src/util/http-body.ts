import type { IncomingMessage } from 'node:http';
import { pipeline, type Readable } from 'node:stream';
import { constants, createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';

/**
 * The media type of a Content-Type header, lower-cased and without parameters; undefined when there is none or
 * the header lists several (the SDK's `mediaTypeEssence` reads well-formed headers the same way).
 */
export function mediaType(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const semicolon = header.indexOf(';');
  const type = (semicolon === -1 ? header : header.slice(0, semicolon)).trim().toLowerCase();
  return type === '' || type.includes(',') ? undefined : type;
}

// Flushing on every chunk lets an event stream through while it is still open.
const STREAMING = { flush: constants.Z_SYNC_FLUSH, finishFlush: constants.Z_SYNC_FLUSH };

/**
 * The body as fetch hands it over: decoded when the upstream compressed it. We do not ask for compression, so
 * this happens only when a configured header does; a coding fetch does not know either stays as it came.
 */
export function decodedBody(res: IncomingMessage): Readable {
  const coding = res.headers['content-encoding']?.trim().toLowerCase();
  const decoder =
    coding === 'gzip' || coding === 'x-gzip'
      ? createGunzip(STREAMING)
      : coding === 'deflate'
        ? createInflate(STREAMING)
        : coding === 'br'
          ? createBrotliDecompress()
          : undefined;
  return decoder ? pipeline(res, decoder, () => undefined) : res;
}

/** A body that went past the size its reader allows; the reader has destroyed it. */
export class BodyTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`the body is larger than ${maxBytes} bytes`);
    this.name = 'BodyTooLargeError';
  }
}

/**
 * A whole body as UTF-8 text, without the byte order mark a UTF-8 decoder drops. Rejects when the body fails or
 * closes before its end, and with BodyTooLargeError (the body destroyed) once it passes `maxBytes`. Plain
 * listeners rather than `for await`: it runs twice per proxied call, and an async iterator with its end-of-stream
 * watcher was a visible share of the gateway's garbage.
 */
export function readText(body: Readable, maxBytes = Infinity): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let ended = false;
    body.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        chunks.length = 0;
        reject(new BodyTooLargeError(maxBytes));
        body.destroy();
        return;
      }
      chunks.push(chunk);
    });
    body.once('end', () => {
      ended = true;
      const text = (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString('utf8');
      resolve(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
    });
    body.once('error', reject);
    body.once('close', () => {
      if (!ended) reject(new Error('the body closed before its end'));
    });
  });
}

/** Consumes a body nobody reads, so that its socket can be reused; a failure on it has nobody to tell. */
export function discard(res: IncomingMessage): void {
  res.on('error', () => undefined).resume();
}
