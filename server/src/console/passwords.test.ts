import { describe, expect, it } from 'vitest';

import { hashPassword, verifyPassword } from './passwords.js';

// Cheap parameters keep the suite fast; the stored parameters are what verify uses, so this tests the same path.
const FAST = { N: 1024, r: 8, p: 1 };

describe('passwords', () => {
  it('verifies the right password and refuses a wrong one', async () => {
    const stored = await hashPassword('correct horse battery', FAST);
    expect(await verifyPassword('correct horse battery', stored)).toBe(true);
    expect(await verifyPassword('correct horse batterY', stored)).toBe(false);
  });

  it('salts every hash and stores its parameters with it', async () => {
    const [a, b] = await Promise.all([hashPassword('same', FAST), hashPassword('same', FAST)]);
    expect(a).not.toBe(b);
    expect(a).toMatch(/^scrypt\$1024\$8\$1\$[\w-]{22}\$[\w-]{43}$/);
  });

  it('hashes with the default parameters (32 MiB, above Node’s default scrypt memory limit)', async () => {
    const stored = await hashPassword('default strength');
    expect(stored.startsWith('scrypt$32768$8$1$')).toBe(true);
    expect(await verifyPassword('default strength', stored)).toBe(true);
  });

  it('treats the same text in another Unicode normal form as the same password', async () => {
    const stored = await hashPassword('caf\u00e9 au lait', FAST);
    expect(await verifyPassword('cafe\u0301 au lait', stored)).toBe(true);
  });

  it.each([
    ['not a hash', 'hunter2'],
    ['another scheme', 'bcrypt$2b$10$abc'],
    ['absurd parameters', 'scrypt$1073741824$8$1$c2FsdA$a2V5'],
    ['an empty key', 'scrypt$1024$8$1$c2FsdA$'],
  ])('refuses %s as a stored value instead of throwing', async (_case, stored) => {
    expect(await verifyPassword('hunter2', stored)).toBe(false);
  });
});
