import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';

import { createApiAuth } from '../api/api-auth.js';
import { loadPolicy } from '../policy/load.js';
import { createPolicyRoutes, type ConsolePolicySource, type PolicyView } from './policy-routes.js';

const TOKEN = 'policy-routes-token';

describe('GET /api/policy', () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  async function view(policy: ConsolePolicySource | undefined): Promise<PolicyView> {
    const app = express();
    const catalogs = async () => [
      { server: 'test', tools: [{ name: 'echo', description: 'Echoes' }, { name: 'wipe' }] },
      { server: 'down', tools: [], error: 'connect ECONNREFUSED' },
    ];
    app.use('/api', createPolicyRoutes({ policy, auth: createApiAuth({ adminToken: TOKEN }), catalogs }));
    server = createServer(app);
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const response = await fetch(`http://127.0.0.1:${port}/api/policy`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(response.status).toBe(200);
    return (await response.json()) as PolicyView;
  }

  it('gives each tool its decision and rule, and a refused reload with its time and problems', async () => {
    const loaded = loadPolicy(JSON.stringify({ version: '1', default: 'allow', tools: { wipe: { action: 'deny', reason: 'Never.' } } }));
    if (!loaded.ok) throw new Error('invalid test policy');
    const refusal = { at: new Date('2026-11-24T10:00:00.000Z'), problems: ['tools.echo.action: expected one of allow, deny, require_approval'] };
    const result = await view({ current: () => loaded.policy, path: '/etc/airlock/policy.json', refusal });
    expect(result).toEqual({
      policy: { path: '/etc/airlock/policy.json', version: loaded.policy.version, default: 'allow', source: loaded.policy.source },
      refusal: { at: '2026-11-24T10:00:00.000Z', problems: refusal.problems },
      servers: [
        {
          name: 'test',
          error: null,
          tools: [
            { name: 'echo', description: 'Echoes', decision: 'allow', rule: '/default', conditions: 0, limits: 0 },
            { name: 'wipe', decision: 'deny', rule: '/tools/wipe', conditions: 0, limits: 0, reason: 'Never.' },
          ],
        },
        { name: 'down', error: 'connect ECONNREFUSED', tools: [] },
      ],
    });
  });

  it('allows every tool when the gateway runs without a policy file', async () => {
    const result = await view(undefined);
    expect(result.policy).toBeNull();
    expect(result.refusal).toBeNull();
    expect(result.servers[0]!.tools.map((tool) => tool.decision)).toEqual(['allow', 'allow']);
  });
});
