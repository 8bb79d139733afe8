/**
 * Throughput of allowed calls with two gateway instances against one, on a shared PostgreSQL and Redis (the
 * scaled mode): 16 SDK clients call the test upstream's echo over Streamable HTTP, spread over the instances.
 * Each gateway and the upstream are processes of their own; on a 2-core machine they compete for the same cores.
 *
 *   DATABASE_URL=postgres://… REDIS_URL=redis://… npx tsx bench/scale-throughput.bench.ts   (CALLS=3000)
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';

import { startProcess } from '../test/fixtures/start-process.js';

const CALLS = Number(process.env.CALLS ?? 3000);
const CLIENTS = 16;
const passthrough = { '~standard': { version: 1 as const, vendor: 'bench', validate: (value: unknown) => ({ value }) } };
if (!process.env.DATABASE_URL || !process.env.REDIS_URL) throw new Error('set DATABASE_URL and REDIS_URL: this measures the scaled mode');


async function callsPerSecond(urls: string[]): Promise<number> {
  const clients = await Promise.all(
    Array.from({ length: CLIENTS }, async (_, i) => {
      const client = new Client({ name: 'bench', version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(`${urls[i % urls.length]!}/mcp/echo`)));
      return client;
    }),
  );
  const call = (client: Client) => client.request({ method: 'tools/call', params: { name: 'echo', arguments: { text: 'bench' } } }, passthrough);
  for (const client of clients) for (let i = 0; i < 20; i += 1) await call(client);
  let next = 0;
  const started = performance.now();
  await Promise.all(
    clients.map(async (client) => {
      while (next < CALLS) {
        next += 1;
        await call(client);
      }
    }),
  );
  const perSecond = (CALLS / (performance.now() - started)) * 1000;
  await Promise.all(clients.map((client) => client.close()));
  return perSecond;
}

const upstream = await startProcess(['--import', 'tsx', 'test/fixtures/test-upstream.ts', '--http', '0'], /listening (\S+)/, 'stdout');
const dir = await mkdtemp(join(tmpdir(), 'airlock-scale-bench-'));
const configPath = join(dir, 'airlock.config.json');
await writeFile(configPath, JSON.stringify({ listen: { port: 0 }, servers: { echo: { url: upstream.match[1]! } } }));
const gateways: ChildProcess[] = [];
try {
  const first = await startProcess(['bin/airlock.js', 'serve', '--config', configPath], /listening on (\S+)\/mcp/, 'stderr', { AIRLOCK_REDIS_PREFIX: `airlock-bench-${process.pid}` });
  gateways.push(first.child);
  const one = await callsPerSecond([first.match[1]!]);
  const second = await startProcess(['bin/airlock.js', 'serve', '--config', configPath], /listening on (\S+)\/mcp/, 'stderr', { AIRLOCK_REDIS_PREFIX: `airlock-bench-${process.pid}` });
  gateways.push(second.child);
  const two = await callsPerSecond([first.match[1]!, second.match[1]!]);
  console.log(`node ${process.version}, ${CALLS} allowed calls, ${CLIENTS} clients`);
  console.log('| instances | calls/s |');
  console.log('|---|---|');
  console.log(`| 1 | ${one.toFixed(0)} |`);
  console.log(`| 2 | ${two.toFixed(0)} (${((two / one) * 100).toFixed(0)} % of one) |`);
} finally {
  for (const child of gateways) child.kill();
  upstream.child.kill();
}
