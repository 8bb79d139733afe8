/**
 * The stdio downstream (`airlock run -- <command>`), as Claude Desktop and Cursor launch servers, and
 * `@modelcontextprotocol/server-everything` as a real third-party upstream over stdio.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport as V1StdioTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { deliverInOrder } from '../../server/src/proxy/upstream/ordered-transport.js';
import { connectClient, rawCall, ROOT, startGateway, TEST_UPSTREAM, textOf, tsxCommand, type RunningGateway } from './helpers/gateway.js';

const EVERYTHING = { command: process.execPath, args: [`${ROOT}node_modules/@modelcontextprotocol/server-everything/dist/index.js`, 'stdio'] };

function airlockRun(upstream: { command: string; args: string[] }, policy?: string): { command: string; args: string[] } {
  const own = policy === undefined ? [] : ['--policy', policy];
  return { command: process.execPath, args: [`${ROOT}bin/airlock.js`, 'run', ...own, '--', upstream.command, ...upstream.args] };
}

describe('airlock run (stdio downstream)', () => {
  let client: Client;

  beforeAll(async () => {
    client = new Client({ name: 'desktop-like', version: '1.0.0' }, { capabilities: { elicitation: { form: {} } } });
    client.setRequestHandler('elicitation/create', async () => ({ action: 'accept', content: { answer: 'ok' } }));
    // The SDK client itself drops a progress notification that shares a pipe read with its result; the gateway
    // works around that upstream, and the test client needs the same fix to count them.
    await client.connect(deliverInOrder(new StdioClientTransport({ ...airlockRun(tsxCommand(TEST_UPSTREAM)), cwd: ROOT, stderr: 'pipe' })));
  });
  afterAll(async () => {
    await client?.close();
  });

  it('exposes the upstream under its own names and forwards faithfully', async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toContain('echo');
    expect(await rawCall(client, 'echo', { text: 'stdio' })).toEqual({
      content: [{ type: 'text', text: 'stdio', 'x-vendor': { kept: true } }],
      'x-result-extra': 42,
    });
  });

  it('relays progress and elicitation over stdio', async () => {
    const seen: unknown[] = [];
    expect(textOf(await rawCall(client, 'progress', { steps: 3 }, { onprogress: (p) => void seen.push(p) }))).toBe('done 3 steps');
    expect(seen).toHaveLength(3);
    expect(textOf(await rawCall(client, 'elicit', { message: 'sure?' }))).toContain('"answer":"ok"');
  });

  it('tells the upstream only the capabilities its client declared', async () => {
    expect(JSON.parse(textOf(await rawCall(client, 'stats'))).clientCapabilities).toEqual({ elicitation: { form: {} } });
    const bare = new Client({ name: 'bare', version: '1.0.0' }, { capabilities: {} });
    await bare.connect(new StdioClientTransport({ ...airlockRun(tsxCommand(TEST_UPSTREAM)), cwd: ROOT, stderr: 'pipe' }));
    try {
      expect(JSON.parse(textOf(await rawCall(bare, 'stats'))).clientCapabilities).toEqual({});
    } finally {
      await bare.close();
    }
  });

  it('refuses a call its policy says needs approval, saying where holding calls works', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'airlock-run-'));
    const policy = join(dir, 'policy.json');
    await writeFile(policy, JSON.stringify({ version: '1', default: 'allow', tools: { stamp: { action: 'require_approval', approval: { approvers: ['web:admin'] } } } }));
    const guarded = new Client({ name: 'desktop-like', version: '1.0.0' });
    await guarded.connect(new StdioClientTransport({ ...airlockRun(tsxCommand(TEST_UPSTREAM), policy), cwd: ROOT, stderr: 'pipe' }));
    try {
      expect(textOf(await rawCall(guarded, 'echo', { text: 'allowed' }))).toBe('allowed');
      expect(await rawCall(guarded, 'stamp')).toMatchObject({
        isError: true,
        content: [{ text: expect.stringMatching(/^Policy violation:.*holds no calls for approval.*airlock run cannot: serve the server with airlock serve and launch airlock connect/s) }],
      });
      expect(JSON.parse(textOf(await rawCall(guarded, 'stats'))).calls.stamp).toBeUndefined();
    } finally {
      await guarded.close();
    }
  });

  it('says once on stderr, and never on stdout, that without a policy every call is allowed', async () => {
    const { command, args } = airlockRun(tsxCommand(TEST_UPSTREAM));
    const child = spawn(command, args, { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    try {
      await vi.waitFor(() => expect(stderr).toContain('every tool call is allowed'), { timeout: 10_000 });
      expect(stderr.match(/every tool call is allowed/g)).toHaveLength(1);
      expect(stdout).toBe('');
    } finally {
      child.kill();
      await once(child, 'exit');
    }
  });

  it.each([
    ['run', ['--polcy', 'policy.json', '--', process.execPath]],
    ['serve', ['--confg', 'airlock.config.json']],
  ])('airlock %s refuses a misspelt option with the usage, exit 2, before starting anything', async (command, own) => {
    const child = spawn(process.execPath, [`${ROOT}bin/airlock.js`, command, ...own], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const [code] = await once(child, 'exit');
    expect(code).toBe(2);
    expect(stderr).toMatch(new RegExp(`^airlock ${command}: Unknown option '${own[0]}'`));
    expect(stderr).toContain('usage:');
  });

  it('serves an SDK 1.x client too', async () => {
    const v1 = new V1Client({ name: 'v1', version: '1.0.0' });
    await v1.connect(new V1StdioTransport({ ...airlockRun(tsxCommand(TEST_UPSTREAM)), cwd: ROOT, stderr: 'pipe' }));
    try {
      const result = await v1.request({ method: 'tools/call', params: { name: 'echo', arguments: { text: 'v1' } } }, CallToolResultSchema);
      expect(result.content[0]).toMatchObject({ text: 'v1' });
    } finally {
      await v1.close();
    }
  });
});

describe('@modelcontextprotocol/server-everything over stdio', () => {
  let direct: Client;
  let gw: RunningGateway;

  beforeAll(async () => {
    direct = new Client({ name: 'direct', version: '1.0.0' });
    await direct.connect(new StdioClientTransport({ ...EVERYTHING, stderr: 'pipe' }));
    gw = await startGateway({ servers: { everything: EVERYTHING } });
  });
  afterAll(async () => {
    await direct?.close();
    await gw?.close();
  });

  it('lists the same tools and returns the same results through airlock serve as directly', async () => {
    const viaGateway = await connectClient(`${gw.url}/mcp`);
    try {
      const [directTools, gatewayTools] = await Promise.all([direct.listTools(), viaGateway.listTools()]);
      expect(gatewayTools.tools.map((t) => t.name)).toEqual(directTools.tools.map((t) => `everything__${t.name}`));
      expect(await rawCall(viaGateway, 'everything__get-sum', { a: 2, b: 40 })).toEqual(await rawCall(direct, 'get-sum', { a: 2, b: 40 }));
      expect(await rawCall(viaGateway, 'everything__echo', { message: 'x' })).toEqual(await rawCall(direct, 'echo', { message: 'x' }));
      expect((await viaGateway.listPrompts()).prompts.length).toBe((await direct.listPrompts()).prompts.length);
    } finally {
      await viaGateway.close();
    }
  });

  it('works behind airlock run as well', async () => {
    const wrapped = new Client({ name: 'wrapped', version: '1.0.0' });
    await wrapped.connect(new StdioClientTransport({ ...airlockRun(EVERYTHING), cwd: ROOT, stderr: 'pipe' }));
    try {
      expect(await rawCall(wrapped, 'get-sum', { a: 1, b: 2 })).toEqual(await rawCall(direct, 'get-sum', { a: 1, b: 2 }));
    } finally {
      await wrapped.close();
    }
  });
});
