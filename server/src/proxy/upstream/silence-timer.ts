/**
 * The timeout of one request forwarded upstream (servers.<name>.timeout). It measures how long the upstream has
 * been silent while it was its turn: progress starts it over, and while a request the upstream sent us within
 * this call (elicitation, sampling, roots) waits for our client's answer it does not run at all, because the
 * upstream is then waiting on a human, who may take far longer than the timeout. It starts over when the answer
 * goes back. The relay of that request is bounded on its own.
 *
 * The SDK cannot pause a request's timeout, so the request is sent with the longest one a timer takes and
 * cancelled through `signal` instead; the reason is the SDK's own timeout error, so a silent upstream is
 * reported exactly as before.
 *
 * Owns the timer and that signal. Does not own routing: the link says which request of the upstream's waits on
 * whom.
 */
import { SdkError, SdkErrorCode } from '../sdk.js';

export class SilenceTimer {
  readonly #timeoutMs: number;
  readonly #controller = new AbortController();
  /** The downstream request's (or held call's) signal, which cancels the upstream request too. */
  readonly #cancelledBy: AbortSignal | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** Requests of the upstream's waiting for our client's answer: its turn resumes when the last is answered. */
  #waiting = 0;
  #stopped = false;

  constructor(timeoutMs: number, cancelledBy?: AbortSignal) {
    this.#timeoutMs = timeoutMs;
    this.#cancelledBy = cancelledBy;
    if (cancelledBy?.aborted) this.#controller.abort(cancelledBy.reason);
    else cancelledBy?.addEventListener('abort', this.#cancel, { once: true });
    this.#start();
  }

  /** Aborts when the upstream was silent for the timeout on its turn, or when `cancelledBy` aborts. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** The upstream spoke (progress): its silence counts from now. */
  heard(): void {
    if (this.#waiting === 0) this.#start();
  }

  /**
   * The upstream waits for our client's answer to something it asked: no silence counts until the returned
   * function is called (once the answer went back), then it counts afresh.
   */
  pause(): () => void {
    this.#waiting += 1;
    clearTimeout(this.#timer);
    let resumed = false;
    return () => {
      if (resumed) return;
      resumed = true;
      this.#waiting -= 1;
      if (this.#waiting === 0) this.#start();
    };
  }

  /** The request has its outcome: nothing left to time. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#cancelledBy?.removeEventListener('abort', this.#cancel);
  }

  #start(): void {
    if (this.#stopped || this.#controller.signal.aborted) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#controller.abort(new SdkError(SdkErrorCode.RequestTimeout, 'Request timed out', { timeout: this.#timeoutMs }));
    }, this.#timeoutMs);
  }

  readonly #cancel = (): void => {
    clearTimeout(this.#timer);
    this.#controller.abort(this.#cancelledBy?.reason);
  };
}
