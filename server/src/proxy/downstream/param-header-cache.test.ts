import { describe, expect, it } from 'vitest';

import { ManualClock } from '../../util/clock.js';
import { ParamHeaderCache, RELIST_INTERVAL_MS } from './param-header-cache.js';

const REGIONAL = { name: 'regional', inputSchema: { type: 'object', properties: { region: { type: 'string', 'x-mcp-header': 'Region' } } } };
const PLAIN = { name: 'plain', inputSchema: { type: 'object', properties: { text: { type: 'string' } } } };

describe('ParamHeaderCache', () => {
  it('tells a listed tool without rules from a tool it has not seen, per server', () => {
    const cache = new ParamHeaderCache(new ManualClock());
    cache.record('a', [REGIONAL, PLAIN]);
    expect(cache.get('a', 'regional')).toMatchObject([{ header: 'Mcp-Param-Region' }]);
    expect(cache.get('a', 'plain')).toEqual([]);
    expect(cache.get('a', 'other')).toBeUndefined();
    expect(cache.get('b', 'regional')).toBeUndefined();
  });

  it('lets the latest listing of a tool win', () => {
    const cache = new ParamHeaderCache(new ManualClock());
    cache.record('a', [REGIONAL]);
    cache.record('a', [{ ...PLAIN, name: 'regional' }]);
    expect(cache.get('a', 'regional')).toEqual([]);
  });

  describe('when a call names a tool not seen yet', () => {
    it('allows one listing of a server per interval, counting listings that clients asked for', () => {
      const clock = new ManualClock();
      const cache = new ParamHeaderCache(clock);
      expect(cache.claimListing('a')).toBe(true);
      expect(cache.claimListing('a')).toBe(false);
      expect(cache.claimListing('b')).toBe(true);
      clock.advance(RELIST_INTERVAL_MS);
      expect(cache.claimListing('a')).toBe(true);
      clock.advance(RELIST_INTERVAL_MS - 1);
      cache.record('b', [PLAIN]);
      clock.advance(1);
      expect(cache.claimListing('b')).toBe(false);
    });
  });
});
