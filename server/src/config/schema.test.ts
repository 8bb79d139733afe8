import { describe, expect, it } from 'vitest';

import { parseConfig } from './load.js';

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
