/** Starts real gateways, upstreams and SDK clients for end-to-end tests, and stops them all afterwards. */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';

import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import type { Result } from '@modelcontextprotocol/server';
import { expect } from 'vitest';

import { parseConfig } from '../../../server/src/config/load.js';
import { createGateway, type Gateway, type GatewayOptions } from '../../../server/src/gateway/create-gateway.js';
import { createLogger } from '../../../server/src/log/logger.js';
import { ROOT, startProcess } from '../../fixtures/start-process.js';

export { ROOT };
export const TEST_UPSTREAM = `${ROOT}test/fixtures/test-upstream.ts`;

/** How a stdio upstream written in TypeScript is launched: node with tsx's loader, no npx in between. */
export function tsxCommand(script: string, ...args: string[]): { command: string; args: string[] } {
  return { command: process.execPath, args: ['--import', 'tsx', script, ...args] };
}

export const passthrough = {
  '~standard': { version: 1 as const, vendor: 'test', validate: (value: unknown) => ({ value: value as Result }) },
};

export interface RunningGateway {
  gateway: Gateway;
  url: string;
  close(): Promise<void>;
}

export async function startGateway(rawConfig: Record<string, unknown>, options: Partial<GatewayOptions> = {}): Promise<RunningGateway> {
  const config = parseConfig({ listen: { port: 0 }, ...rawConfig }, 'test config', {});
  const gateway = createGateway({ config, logger: createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'), ...options });
  const { url } = await gateway.listen();
  return { gateway, url, close: () => gateway.close() };
}

/** A Streamable HTTP upstream in its own process; resolves once it prints its URL. */
export async function startHttpUpstream(
  script = TEST_UPSTREAM,
  transport: '--http' | '--sse' = '--http',
  ...flags: string[]
): Promise<{ url: string; child: ChildProcess; close(): Promise<void> }> {
  const { child, match } = await startProcess(tsxCommand(script, transport, '0', ...flags).args, /listening (\S+)/, 'stdout');
  return {
    url: match[1]!,
    child,
    async close() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill();
        await once(child, 'exit');
      }
    },
  };
}

export async function connectClient(
  url: string,
  options: { capabilities?: Record<string, unknown>; modern?: boolean; apiKey?: string } = {},
): Promise<Client> {
  const client = new Client(
    { name: 'e2e', version: '1.0.0' },
    { capabilities: options.capabilities ?? {}, ...(options.modern ? { versionNegotiation: { mode: 'auto' as const } } : {}) },
  );
  const headers = options.apiKey === undefined ? undefined : { authorization: `Bearer ${options.apiKey}` };
  await client.connect(new StreamableHTTPClientTransport(new URL(url), headers ? { requestInit: { headers } } : undefined));
  return client;
}

/** tools/call without the client's result validation, so what the gateway sent is what the test sees. */
export function rawCall(client: Client, name: string, args: Record<string, unknown> = {}, options: Parameters<Client['request']>[2] = {}) {
  return client.request({ method: 'tools/call', params: { name, arguments: args } }, passthrough, options) as Promise<Record<string, unknown>>;
}

/** Starts the test upstream's wait_for_cancel, cancels it once the upstream runs it, and waits for the rejection. */
export async function callThenCancel(client: Client, reason: string): Promise<void> {
  const abort = new AbortController();
  const pending = rawCall(client, 'test__wait_for_cancel', {}, { signal: abort.signal });
  await expect.poll(async () => JSON.parse(textOf(await rawCall(client, 'test__stats'))).calls.wait_for_cancel).toBeGreaterThan(0);
  abort.abort(reason);
  await expect(pending).rejects.toThrow();
}

export function textOf(result: Record<string, unknown>): string {
  return ((result.content as { text?: string }[]) ?? []).map((c) => c.text ?? '').join('');
}

/** `airlock serve` as its own process (the CLI as users run it); resolves with its URL once it listens. */
export async function startServeProcess(configPath: string, env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
  const { child, match } = await startProcess([`${ROOT}bin/airlock.js`, 'serve', '--config', configPath], /listening on (\S+)\/mcp/, 'stderr', env);
  return { child, url: match[1]! };
}
