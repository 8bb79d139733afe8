import { describe, expect, it } from 'vitest';

import { chainHash, GENESIS_HASH } from './hash-chain.js';

describe('chain hashes', () => {
  it('hash = sha256(prev_hash + canonical), hex', () => {
    // Computed independently: python3 -c "hashlib.sha256(('0'*64 + '{\"a\":1}').encode()).hexdigest()"
    expect(chainHash(GENESIS_HASH, '{"a":1}')).toBe('fc6cee09194dd2578bd7664604fcb72a539066fd34544cea0009c43eb6cdc289');
  });
});
