import { describe, expect, it } from 'vitest';

import { checkParamHeaders, paramHeaderRules } from './param-headers.js';

/** The spec's example tool, plus an integer, a boolean and a nested argument. */
const SCHEMA = {
  type: 'object',
  properties: {
    region: { type: 'string', 'x-mcp-header': 'Region' },
    query: { type: 'string' },
    shard: { type: 'integer', 'x-mcp-header': 'Shard' },
    dryRun: { type: 'boolean', 'x-mcp-header': 'Dry-Run' },
    target: { type: 'object', properties: { tenant: { type: 'string', 'x-mcp-header': 'Tenant' } } },
  },
  required: ['region', 'query'],
};
const RULES = paramHeaderRules(SCHEMA);

/** Node's view of request headers: names lower-cased, values trimmed. */
function check(args: unknown, headers: Record<string, string>) {
  return checkParamHeaders(RULES, args, headers);
}

describe('paramHeaderRules', () => {
  it('finds every annotation on a chain of properties, with its path and how to compare it', () => {
    expect(RULES).toEqual([
      { header: 'Mcp-Param-Region', key: 'mcp-param-region', path: ['region'], numeric: false },
      { header: 'Mcp-Param-Shard', key: 'mcp-param-shard', path: ['shard'], numeric: true },
      { header: 'Mcp-Param-Dry-Run', key: 'mcp-param-dry-run', path: ['dryRun'], numeric: false },
      { header: 'Mcp-Param-Tenant', key: 'mcp-param-tenant', path: ['target', 'tenant'], numeric: false },
    ]);
  });

  it('has nothing for a tool without annotations, or with annotations where the spec makes them invalid', () => {
    expect(paramHeaderRules({ type: 'object', properties: { text: { type: 'string' } } })).toEqual([]);
    expect(paramHeaderRules(undefined)).toEqual([]);
    expect(
      paramHeaderRules({
        type: 'object',
        properties: {
          list: { type: 'array', items: { type: 'object', properties: { id: { type: 'string', 'x-mcp-header': 'Id' } } } },
          either: { anyOf: [{ type: 'string', 'x-mcp-header': 'Either' }] },
          spaced: { type: 'string', 'x-mcp-header': 'Not A Token' },
          empty: { type: 'string', 'x-mcp-header': '' },
        },
      }),
    ).toEqual([]);
  });
});

describe('checkParamHeaders', () => {
  describe('when the headers mirror the arguments', () => {
    it('accepts plain values, integers compared as numbers and booleans as true/false', () => {
      expect(check({ region: 'us-west1', query: 'q' }, { 'mcp-param-region': 'us-west1' })).toBeUndefined();
      expect(check({ region: 'eu', shard: 42 }, { 'mcp-param-region': 'eu', 'mcp-param-shard': '42.0' })).toBeUndefined();
      expect(check({ region: 'eu', dryRun: false }, { 'mcp-param-region': 'eu', 'mcp-param-dry-run': 'false' })).toBeUndefined();
      expect(check({ region: 'eu', target: { tenant: 'acme' } }, { 'mcp-param-region': 'eu', 'mcp-param-tenant': 'acme' })).toBeUndefined();
    });

    it('decodes =?base64?…?= and takes a value missing either marker literally', () => {
      expect(check({ region: 'Hello, 世界' }, { 'mcp-param-region': '=?base64?SGVsbG8sIOS4lueVjA==?=' })).toBeUndefined();
      expect(check({ region: ' padded ' }, { 'mcp-param-region': '=?base64?IHBhZGRlZCA=?=' })).toBeUndefined();
      expect(check({ region: 'SGVsbG8=' }, { 'mcp-param-region': 'SGVsbG8=' })).toBeUndefined();
      expect(check({ region: '=?base64?SGVsbG8=' }, { 'mcp-param-region': '=?base64?SGVsbG8=' })).toBeUndefined();
    });

    it('expects no header for an argument that is null or absent, and ignores one sent anyway', () => {
      expect(check({ region: 'eu', shard: null }, { 'mcp-param-region': 'eu' })).toBeUndefined();
      expect(check({ region: 'eu' }, { 'mcp-param-region': 'eu', 'mcp-param-shard': '7' })).toBeUndefined();
      expect(check(undefined, {})).toBeUndefined();
    });

    it('leaves an argument of the wrong type to the tool’s own validation', () => {
      expect(check({ region: { nested: true } }, {})).toBeUndefined();
    });
  });

  describe('when they do not', () => {
    it('refuses a header that disagrees with its argument, naming both', () => {
      expect(check({ region: 'us-west1' }, { 'mcp-param-region': 'eu-west1' })).toEqual({
        header: 'Mcp-Param-Region',
        message: 'Header mismatch: the Mcp-Param-Region header is "eu-west1" but arguments.region is "us-west1"',
      });
      expect(check({ region: 'eu', target: { tenant: 'acme' } }, { 'mcp-param-region': 'eu', 'mcp-param-tenant': 'evil' })).toMatchObject({
        header: 'Mcp-Param-Tenant',
        message: expect.stringContaining('arguments.target.tenant is "acme"'),
      });
    });

    it('compares header values case-sensitively and numbers only as plain decimals', () => {
      expect(check({ region: 'eu' }, { 'mcp-param-region': 'EU' })).toMatchObject({ header: 'Mcp-Param-Region' });
      expect(check({ region: 'eu', shard: 42 }, { 'mcp-param-region': 'eu', 'mcp-param-shard': '0x2a' })).toMatchObject({ header: 'Mcp-Param-Shard' });
      expect(check({ region: 'eu', dryRun: true }, { 'mcp-param-region': 'eu', 'mcp-param-dry-run': 'True' })).toMatchObject({ header: 'Mcp-Param-Dry-Run' });
    });

    it('refuses an argument whose header is missing', () => {
      expect(check({ region: 'eu', query: 'q' }, {})).toEqual({
        header: 'Mcp-Param-Region',
        message: 'Header mismatch: arguments.region is "eu" but the Mcp-Param-Region header that mirrors it is missing',
      });
    });

    it('refuses malformed Base64 and characters a header value may not carry, even with no argument to compare', () => {
      expect(check({ region: 'Hello' }, { 'mcp-param-region': '=?base64?SGVsbG8?=' })).toEqual({
        header: 'Mcp-Param-Region',
        message: 'Header mismatch: the Mcp-Param-Region header is not valid Base64 inside =?base64?…?= ("SGVsbG8")',
      });
      expect(check({ region: 'Hello' }, { 'mcp-param-region': '=?base64?SGVs!!!bG8=?=' })).toMatchObject({ header: 'Mcp-Param-Region' });
      expect(check({ region: '\u00ff' }, { 'mcp-param-region': '=?base64?/w==?=' })).toMatchObject({ message: expect.stringContaining('not UTF-8') });
      expect(check({}, { 'mcp-param-region': 'caf\u00e9' })).toMatchObject({ message: expect.stringContaining('visible ASCII') });
    });
  });
});
