import { describe, expect, it } from 'vitest';

import { parseConfig } from './load.js';
import { resolveRedisUrl } from './redis-url.js';

describe('servers.<name>.protocol', () => {
  it('defaults to auto and accepts the two revisions', () => {
    const config = parseConfig({ servers: { a: { command: 'x' }, b: { command: 'x', protocol: '2026-07-28' }, c: { url: 'http://h/mcp', protocol: '2025-11-25' } } }, 'c.json', {});
    expect([config.servers.a!.protocol, config.servers.b!.protocol, config.servers.c!.protocol]).toEqual(['auto', '2026-07-28', '2025-11-25']);
  });

  it('names the path of a bad value and of a 2026 server on the HTTP+SSE transport', () => {
    expect(() =>
      parseConfig({ servers: { a: { command: 'x', protocol: '2026' }, old: { url: 'http://h/sse', transport: 'sse', protocol: '2026-07-28' } } }, 'c.json', {}),
    ).toThrow(
      expect.objectContaining({
        details: [
          'servers.a.protocol: Invalid option: expected one of "auto"|"2025-11-25"|"2026-07-28"',
          'servers.old.protocol: the HTTP+SSE transport predates 2026-07-28; use "streamable-http" or another protocol',
        ],
      }),
    );
  });
});

describe('listen.internalUrl', () => {
  it('takes an http or https URL, and names the path of anything else', () => {
    const servers = { a: { command: 'x' } };
    expect(parseConfig({ listen: { internalUrl: 'http://10.0.0.5:8787' }, servers }, 'c.json', {}).listen.internalUrl).toBe('http://10.0.0.5:8787');
    for (const internalUrl of ['10.0.0.5:8787', 'ftp://10.0.0.5']) {
      let details: unknown;
      try {
        parseConfig({ listen: { internalUrl }, servers }, 'c.json', {});
      } catch (error) {
        details = (error as { details?: unknown }).details;
      }
      expect(details).toEqual([expect.stringMatching(/^listen\.internalUrl: /)]);
    }
  });

  it('is set by AIRLOCK_INTERNAL_URL over the file, beside AIRLOCK_PORT', () => {
    const raw = { listen: { host: '0.0.0.0', internalUrl: 'http://file:8787' }, servers: { a: { command: 'x' } } };
    expect(parseConfig(raw, 'c.json', { AIRLOCK_INTERNAL_URL: 'http://airlock-b:9000', AIRLOCK_PORT: '9000' }).listen).toMatchObject({
      host: '0.0.0.0',
      port: 9000,
      internalUrl: 'http://airlock-b:9000',
    });
    expect(parseConfig(raw, 'c.json', {}).listen.internalUrl).toBe('http://file:8787');
  });
});

describe('sizes', () => {
  it('defaults servers.<name>.maxMessageSize to 10mb, and names the path of anything that is not a size', () => {
    expect(parseConfig({ servers: { a: { command: 'x' } } }, 'c.json', {}).servers.a!.maxMessageSize).toBe('10mb');
    expect(() =>
      parseConfig({ servers: { a: { command: 'x', maxMessageSize: 'ten megs' } }, sessions: { maxRequestBody: '0' } }, 'c.json', {}),
    ).toThrow(
      expect.objectContaining({
        details: ['servers.a.maxMessageSize: "ten megs" is not a size (use e.g. "512kb", "4mb")', 'sessions.maxRequestBody: "0" is not a size (use e.g. "512kb", "4mb")'],
      }),
    );
  });
});

describe('durations', () => {
  const servers = { a: { command: 'x' } };
  const problems = (raw: Record<string, unknown>) => {
    try {
      parseConfig({ servers, ...raw }, 'c.json', {});
    } catch (error) {
      return (error as { details?: unknown }).details;
    }
    return [];
  };

  it('refuses one longer than a timer holds (setTimeout would fire at once), naming the path and the maximum', () => {
    expect(problems({ servers: { a: { command: 'x', timeout: '30d' } }, approvals: { syncCap: 2_200_000 } })).toEqual([
      'servers.a.timeout: "30d" is longer than the maximum of 2147483647ms (about 24.8 days)',
      'approvals.syncCap: 2200000 is longer than the maximum of 2147483647ms (about 24.8 days)',
    ]);
    expect(parseConfig({ servers: { a: { command: 'x', timeout: '24d' } } }, 'c.json', {}).servers.a!.timeout).toBe(24 * 86_400_000);
  });

  it('refuses 0 where it means nothing, and takes approvals.syncCap 0 (answer at once that the call awaits approval)', () => {
    expect(
      problems({ servers: { a: { command: 'x', timeout: 0 } }, sessions: { idleTimeout: '0s' }, upstreams: { connectTimeout: '0ms' }, approvals: { heartbeat: 0 } }),
    ).toEqual([
      'servers.a.timeout: must be longer than 0',
      'sessions.idleTimeout: must be longer than 0',
      'upstreams.connectTimeout: must be longer than 0',
      'approvals.heartbeat: must be longer than 0',
    ]);
    expect(parseConfig({ servers, approvals: { syncCap: 0 } }, 'c.json', {}).approvals.syncCap).toBe(0);
  });
});

describe('AIRLOCK_PORT', () => {
  const raw = { listen: { port: 8787 }, servers: { a: { command: 'x' } } };

  it('is unset when empty, and otherwise a port from 1 to 65535 in plain digits', () => {
    expect(parseConfig(raw, 'c.json', { AIRLOCK_PORT: '' }).listen.port).toBe(8787);
    expect(parseConfig(raw, 'c.json', { AIRLOCK_PORT: '65535' }).listen.port).toBe(65535);
  });

  it.each([' ', '0', '0x1F90', '80a', '1e3', '65536', '-1', '8080 '])('refuses %j, naming AIRLOCK_PORT and its value rather than listen.port', (value) => {
    expect(() => parseConfig(raw, 'c.json', { AIRLOCK_PORT: value })).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID', details: [`AIRLOCK_PORT: must be a port number from 1 to 65535 (got ${JSON.stringify(value)})`] }),
    );
  });
});

describe('redis', () => {
  const servers = { a: { command: 'x' } };

  it('takes redis.url, and names an unknown key in the redis section', () => {
    expect(parseConfig({ servers, redis: { url: 'redis://cache:6379' } }, 'c.json', {}).redis).toEqual({ url: 'redis://cache:6379' });
    expect(() => parseConfig({ servers, redis: { uri: 'redis://cache:6379' } }, 'c.json', {})).toThrow(
      expect.objectContaining({ details: ['redis: unknown key(s) "uri"'] }),
    );
  });

  it('resolves to REDIS_URL over redis.url, a blank one counting as unset', () => {
    const config = parseConfig({ servers, redis: { url: 'redis://file:6379' } }, 'c.json', {});
    expect(resolveRedisUrl(config, { REDIS_URL: 'redis://env:6379' })).toBe('redis://env:6379');
    expect(resolveRedisUrl(config, { REDIS_URL: ' ' })).toBe('redis://file:6379');
    expect(resolveRedisUrl(parseConfig({ servers }, 'c.json', {}), { REDIS_URL: '' })).toBeUndefined();
  });
});
