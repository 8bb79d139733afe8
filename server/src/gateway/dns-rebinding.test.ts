import { describe, expect, it } from 'vitest';

import { hostAndOriginAllowed } from './dns-rebinding.js';

describe('hostAndOriginAllowed', () => {
  const local = hostAndOriginAllowed({ host: '127.0.0.1', port: 8787 });

  it('on a localhost bind accepts only localhost Host and Origin values', () => {
    expect(local({ host: '127.0.0.1:8787' })).toBe(true);
    expect(local({ host: 'localhost:8787', origin: 'http://localhost:3000' })).toBe(true);
    expect(local({ host: 'evil.example:8787' })).toBe(false);
    expect(local({ host: 'localhost:8787', origin: 'http://evil.example' })).toBe(false);
    expect(local({})).toBe(false);
    expect(local({ host: '' })).toBe(false);
  });

  it('gives the same verdicts when asked again, and after more pairs than it remembers', () => {
    for (let i = 0; i < 600; i += 1) {
      expect(local({ host: `evil${i}.example` })).toBe(false);
      expect(local({ host: '127.0.0.1:8787', origin: i % 2 === 0 ? 'http://localhost' : `http://evil${i}.example` })).toBe(i % 2 === 0);
    }
    expect(local({ host: 'localhost:8787' })).toBe(true);
    expect(local({ host: 'evil0.example' })).toBe(false);
  });

  it('follows an explicit allowlist instead of the localhost rules', () => {
    const listed = hostAndOriginAllowed({ host: '0.0.0.0', port: 8787, allowedHosts: ['gateway.internal'], allowedOrigins: ['console.internal'] });
    expect(listed({ host: 'gateway.internal:8787', origin: 'https://console.internal' })).toBe(true);
    expect(listed({ host: 'localhost:8787' })).toBe(false);
    expect(listed({ host: 'gateway.internal', origin: 'https://evil.example' })).toBe(false);
  });

  it('on a public bind without allowlists checks nothing', () => {
    expect(hostAndOriginAllowed({ host: '0.0.0.0', port: 8787 })({ host: 'anything.example', origin: 'https://else.example' })).toBe(true);
  });
});
