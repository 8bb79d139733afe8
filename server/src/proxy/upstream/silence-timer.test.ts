import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { SdkError, SdkErrorCode } from '../sdk.js';
import { SilenceTimer } from './silence-timer.js';

describe('SilenceTimer', () => {
  let timers: SilenceTimer[];
  const start = (timeoutMs: number, cancelledBy?: AbortSignal) => {
    const timer = new SilenceTimer(timeoutMs, cancelledBy);
    timers.push(timer);
    return timer;
  };

  beforeEach(() => {
    timers = [];
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  });
  afterEach(() => {
    for (const timer of timers) timer.stop();
    vi.useRealTimers();
  });

  describe('when the upstream is silent', () => {
    it('aborts after the timeout with the SDK\'s own timeout error', () => {
      const timer = start(1000);
      vi.advanceTimersByTime(999);
      expect(timer.signal.aborted).toBe(false);
      vi.advanceTimersByTime(1);
      expect(timer.signal.reason).toBeInstanceOf(SdkError);
      expect(timer.signal.reason).toMatchObject({ code: SdkErrorCode.RequestTimeout, data: { timeout: 1000 } });
    });

    it('counts from the last progress it heard', () => {
      const timer = start(1000);
      vi.advanceTimersByTime(900);
      timer.heard();
      vi.advanceTimersByTime(999);
      expect(timer.signal.aborted).toBe(false);
      vi.advanceTimersByTime(1);
      expect(timer.signal.aborted).toBe(true);
    });
  });

  describe('when the upstream waits for our client', () => {
    it('does not run until the answer goes back, then counts afresh', () => {
      const timer = start(1000);
      vi.advanceTimersByTime(900);
      const resume = timer.pause();
      vi.advanceTimersByTime(60_000);
      timer.heard();
      vi.advanceTimersByTime(60_000);
      expect(timer.signal.aborted).toBe(false);
      resume();
      vi.advanceTimersByTime(999);
      expect(timer.signal.aborted).toBe(false);
      vi.advanceTimersByTime(1);
      expect(timer.signal.aborted).toBe(true);
    });

    it('stays paused until every pending answer went back, whichever order they come in', () => {
      const timer = start(1000);
      const first = timer.pause();
      const second = timer.pause();
      first();
      first();
      vi.advanceTimersByTime(5000);
      expect(timer.signal.aborted).toBe(false);
      second();
      vi.advanceTimersByTime(1000);
      expect(timer.signal.aborted).toBe(true);
    });
  });

  describe('when the request is over', () => {
    it('never fires, not even after an answer that went back late', () => {
      const timer = start(1000);
      const resume = timer.pause();
      timer.stop();
      resume();
      vi.advanceTimersByTime(10_000);
      expect(timer.signal.aborted).toBe(false);
    });
  });

  describe('when the downstream request is cancelled', () => {
    it('aborts with its reason and stops timing', () => {
      const downstream = new AbortController();
      const timer = start(1000, downstream.signal);
      downstream.abort('user pressed stop');
      expect(timer.signal.reason).toBe('user pressed stop');
      expect(vi.getTimerCount()).toBe(0);
    });

    it('starts aborted when it already was', () => {
      const timer = start(1000, AbortSignal.abort('gone'));
      expect(timer.signal.reason).toBe('gone');
      expect(vi.getTimerCount()).toBe(0);
    });
  });
});
