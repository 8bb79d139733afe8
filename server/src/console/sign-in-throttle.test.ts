import { describe, expect, it } from 'vitest';

import { ManualClock } from '../util/clock.js';
import { SignInThrottle } from './sign-in-throttle.js';

describe('SignInThrottle', () => {
  it('locks a username at one address after ten failures, for the rest of fifteen minutes', () => {
    const clock = new ManualClock();
    const throttle = new SignInThrottle(clock);
    for (let i = 0; i < 9; i += 1) throttle.fail('10.0.0.1', 'alice');
    expect(throttle.retryAfterMs('10.0.0.1', 'alice')).toBe(0);
    throttle.fail('10.0.0.1', 'alice');
    clock.advance(60_000);
    expect(throttle.retryAfterMs('10.0.0.1', 'alice')).toBe(14 * 60_000);
    expect(throttle.retryAfterMs('10.0.0.2', 'alice')).toBe(0);
    expect(throttle.retryAfterMs('10.0.0.1', 'bob')).toBe(0);
    clock.advance(14 * 60_000);
    expect(throttle.retryAfterMs('10.0.0.1', 'alice')).toBe(0);
  });

  it('forgets the failures of a pair that signs in', () => {
    const throttle = new SignInThrottle(new ManualClock());
    for (let i = 0; i < 9; i += 1) throttle.fail('::1', 'alice');
    throttle.succeed('::1', 'alice');
    throttle.fail('::1', 'alice');
    expect(throttle.retryAfterMs('::1', 'alice')).toBe(0);
  });
});
