import { StringDecoder } from 'node:string_decoder';

/** One dispatched server-sent event. `id` is the event's own id field, if it had one. */
export interface SseEvent {
  id: string | undefined;
  event: string | undefined;
  data: string;
}

const LF = 0x0a;
const COLON = 0x3a;
const SPACE = 0x20;
const BOM = 0xfeff;

/**
 * Parses a `text/event-stream` body incrementally: bytes in, one callback per dispatched event. Chunks may end
 * anywhere, inside a line or a UTF-8 character. It reads events as the SDK's client does (eventsource-parser 3
 * behind a TextDecoderStream), which differs from the WHATWG algorithm in two places: an event is dispatched only
 * if it had a data line, and its id is that event's own rather than a last-event-id carried over. Comments,
 * `retry` and unknown fields are ignored; an event the stream ends before terminating is never dispatched.
 */
export class SseParser {
  readonly #onEvent: (event: SseEvent) => void;
  readonly #decoder = new StringDecoder('utf8');
  /** The start of a line whose end has not arrived yet, one piece per chunk. */
  readonly #partial: string[] = [];
  #started = false;
  /** The last chunk ended with CR: an LF opening the next one completes that line end, it is not a blank line. */
  #afterCR = false;
  #data: string | undefined;
  #id: string | undefined;
  #event: string | undefined;

  constructor(onEvent: (event: SseEvent) => void) {
    this.#onEvent = onEvent;
  }

  /** Characters held for the event being read (its data so far and an unfinished line), to bound its size. */
  get pending(): number {
    let held = this.#data?.length ?? 0;
    for (const piece of this.#partial) held += piece.length;
    return held;
  }

  push(chunk: Buffer): void {
    let text = this.#decoder.write(chunk);
    if (text === '') return;
    if (!this.#started) {
      this.#started = true;
      if (text.charCodeAt(0) === BOM) text = text.slice(1);
    }
    let start = 0;
    if (this.#afterCR) {
      this.#afterCR = false;
      if (text.charCodeAt(0) === LF) start = 1;
    }
    // Both positions are searched again only once passed, so a chunk is scanned in linear time.
    let cr = text.indexOf('\r', start);
    let lf = text.indexOf('\n', start);
    for (;;) {
      if (cr !== -1 && cr < start) cr = text.indexOf('\r', start);
      if (lf !== -1 && lf < start) lf = text.indexOf('\n', start);
      const end = cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf);
      if (end === -1) break;
      this.#line(this.#complete(text.slice(start, end)));
      start = end + 1;
      if (end === cr) {
        if (start === text.length) this.#afterCR = true;
        else if (text.charCodeAt(start) === LF) start += 1;
      }
    }
    if (start < text.length) this.#partial.push(text.slice(start));
  }

  #complete(tail: string): string {
    if (this.#partial.length === 0) return tail;
    this.#partial.push(tail);
    const line = this.#partial.join('');
    this.#partial.length = 0;
    return line;
  }

  #line(line: string): void {
    if (line === '') {
      this.#dispatch();
      return;
    }
    if (line.charCodeAt(0) === COLON) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(line.charCodeAt(colon + 1) === SPACE ? colon + 2 : colon + 1);
    switch (field) {
      case 'data':
        this.#data = this.#data === undefined ? value : `${this.#data}\n${value}`;
        break;
      case 'event':
        this.#event = value === '' ? undefined : value;
        break;
      case 'id':
        if (!value.includes('\0')) this.#id = value;
        break;
      default:
        break;
    }
  }

  #dispatch(): void {
    if (this.#data !== undefined) this.#onEvent({ id: this.#id, event: this.#event, data: this.#data });
    this.#data = undefined;
    this.#id = undefined;
    this.#event = undefined;
  }
}
