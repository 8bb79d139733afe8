import { describe, expect, it } from 'vitest';

import { readCatalog } from './upstream-tools.js';

describe('readCatalog', () => {
  it('follows cursors to the last page and keeps names and descriptions', async () => {
    const pages: Record<string, unknown> = {
      first: { tools: [{ name: 'a', description: 'first' }, { name: 42 }], nextCursor: 'two' },
      two: { tools: [{ name: 'b', inputSchema: {} }] },
    };
    const seen: unknown[] = [];
    const catalog = await readCatalog({
      name: 'srv',
      request: async (_method, params) => {
        seen.push(params);
        return pages[(params?.cursor as string | undefined) ?? 'first'];
      },
    });
    expect(catalog).toEqual({ server: 'srv', tools: [{ name: 'a', description: 'first' }, { name: 'b' }] });
    expect(seen).toEqual([undefined, { cursor: 'two' }]);
  });

  it('reports an upstream that cannot be reached instead of leaving it out', async () => {
    const catalog = await readCatalog({ name: 'down', request: () => Promise.reject(new Error('Upstream "down" could not be reached: ECONNREFUSED')) });
    expect(catalog).toEqual({ server: 'down', tools: [], error: 'Upstream "down" could not be reached: ECONNREFUSED' });
  });
});
