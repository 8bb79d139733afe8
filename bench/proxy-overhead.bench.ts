/**
 * Proxy overhead: the official SDK client calls the test upstream's echo tool directly and through
 * `airlock serve` (allow-all), in one run on loopback, at concurrency 1 and 16. Each side runs in its own process
 * (upstream, gateway, this client) so the gateway's work is not hidden in the client's event loop.
 * For scale it also measures a bare keep-alive forwarder (bench/bare-forwarder.ts) in the same run: the two extra
 * loopback hops alone, the floor under any gateway on this machine.
 * On Linux it also reports the CPU time each process spent per call (from /proc), which moves far less than
 * latency when other work shares the machine: the gateway's own cost, next to the client's and the upstream's.
 *
 *   npm run bench              (CALLS=2000 measured after WARMUP=3000 by default)
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';

import { startProcess } from '../test/fixtures/start-process.js';

const CALLS = Number(process.env.CALLS ?? 2000);
// A gateway serves for days; what it costs then is what this measures. Its CPU per call keeps falling over the first
// few thousand calls (V8 optimizing its JavaScript and tiering up PGlite's WASM): after 200 warm-up calls the cells
// still held much of that, and the gateway measured about 1.5 times its steady cost.
const WARMUP = Number(process.env.WARMUP ?? 3000);
const passthrough = { '~standard': { version: 1 as const, vendor: 'bench', validate: (value: unknown) => ({ value }) } };

// The SDK client's transport passes one signal, alive as long as the transport, to every fetch; undici adds an
// abort listener per request and drops it only when the request is garbage-collected, so thousands of calls on one
// client print thousands of MaxListenersExceededWarning lines (the bench's own client, not the gateway). Other
// warnings are printed as Node would.
process.removeAllListeners('warning');
process.on('warning', (warning) => {
  if (warning.name !== 'MaxListenersExceededWarning') process.stderr.write(`${warning.name}: ${warning.message}\n`);
});

async function clients(url: string, count: number): Promise<Client[]> {
  return Promise.all(
    Array.from({ length: count }, async () => {
      const client = new Client({ name: 'bench', version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(url)));
      return client;
    }),
  );
}

/** CPU seconds a process has used so far (user + system), or undefined where /proc is not there. */
const ticksPerSecond = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString()) || 100;
  } catch {
    return 100;
  }
})();
function cpuSeconds(pid: number): number | undefined {
  try {
    // Fields after the command name: utime and stime are the 12th and 13th.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
  } catch {
    return undefined;
  }
}

interface Measured {
  p50: number;
  p99: number;
  perSecond: number;
  /** Microseconds of CPU per call: this client, the upstream, the proxy (gateway or forwarder) when one is in the path. */
  cpu: { client: number; upstream?: number; proxy?: number };
}

async function measure(url: string, concurrency: number, proxyPid?: number): Promise<Measured> {
  const pool = await clients(url, concurrency);
  const call = (client: Client) => client.request({ method: 'tools/call', params: { name: 'echo', arguments: { text: 'bench' } } }, passthrough);
  for (let i = 0; i < WARMUP; i += 1) await call(pool[i % concurrency]!);
  const latencies: number[] = [];
  let next = 0;
  const perCall = (before: number | undefined, after: number | undefined) =>
    before === undefined || after === undefined ? undefined : ((after - before) * 1e6) / CALLS;
  const upstreamBefore = cpuSeconds(upstream.child.pid!);
  const proxyBefore = proxyPid === undefined ? undefined : cpuSeconds(proxyPid);
  const clientBefore = process.cpuUsage();
  const started = performance.now();
  await Promise.all(
    pool.map(async (client) => {
      while (next < CALLS) {
        next += 1;
        const t0 = performance.now();
        await call(client);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const elapsed = performance.now() - started;
  const client = process.cpuUsage(clientBefore);
  const cpu = {
    client: (client.user + client.system) / CALLS,
    upstream: perCall(upstreamBefore, cpuSeconds(upstream.child.pid!)),
    proxy: proxyPid === undefined ? undefined : perCall(proxyBefore, cpuSeconds(proxyPid)),
  };
  await Promise.all(pool.map((each) => each.close()));
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
  return { p50: at(0.5), p99: at(0.99), perSecond: (latencies.length / elapsed) * 1000, cpu };
}

const upstream = await startProcess(['--import', 'tsx', 'test/fixtures/test-upstream.ts', '--http', '0'], /listening (\S+)/, 'stdout');
const directUrl = upstream.match[1]!;
const dir = await mkdtemp(join(tmpdir(), 'airlock-bench-'));
const configPath = join(dir, 'airlock.config.json');
await writeFile(configPath, JSON.stringify({ listen: { port: 0 }, servers: { echo: { url: directUrl } } }));
// Its own data directory: the embedded database starts empty every run and never meets a gateway left running.
const gateway = await startProcess(['bin/airlock.js', 'serve', '--config', configPath], /listening on (\S+)\/mcp/, 'stderr', { AIRLOCK_DATA_DIR: dir });
const gatewayUrl = `${gateway.match[1]!}/mcp/echo`;
const forwarder = await startProcess(['--import', 'tsx', 'bench/bare-forwarder.ts', directUrl], /listening on (\S+)/, 'stderr');
const forwarderUrl = forwarder.match[1]!;

try {
  const rows: string[] = [];
  const floorRows: string[] = [];
  const cpuRows: string[] = [];
  const us = (value: number | undefined) => (value === undefined ? 'n/a' : value.toFixed(0));
  const added = (base: number, other: number) => `${other >= base ? '+' : '−'}${Math.abs(other - base).toFixed(3)}`;
  const ratio = (base: Measured, other: Measured) => `${((other.perSecond / base.perSecond) * 100).toFixed(1)} %`;
  for (const concurrency of [1, 16]) {
    const direct = await measure(directUrl, concurrency);
    const viaForwarder = await measure(forwarderUrl, concurrency, forwarder.child.pid);
    const viaGateway = await measure(gatewayUrl, concurrency, gateway.child.pid);
    rows.push(
      `| ${concurrency} | ${direct.p50.toFixed(3)} / ${viaGateway.p50.toFixed(3)} (${added(direct.p50, viaGateway.p50)}) ` +
        `| ${direct.p99.toFixed(3)} / ${viaGateway.p99.toFixed(3)} (${added(direct.p99, viaGateway.p99)}) ` +
        `| ${direct.perSecond.toFixed(0)} / ${viaGateway.perSecond.toFixed(0)} (${ratio(direct, viaGateway)}) |`,
    );
    floorRows.push(
      `| ${concurrency} | ${viaForwarder.p50.toFixed(3)} (${added(direct.p50, viaForwarder.p50)}) ` +
        `| ${viaForwarder.p99.toFixed(3)} (${added(direct.p99, viaForwarder.p99)}) ` +
        `| ${viaForwarder.perSecond.toFixed(0)} (${ratio(direct, viaForwarder)}) ` +
        `| ${added(viaForwarder.p50, viaGateway.p50)} ms, ${ratio(viaForwarder, viaGateway)} |`,
    );
    cpuRows.push(
      `| ${concurrency} | ${us(direct.cpu.client)} / ${us(direct.cpu.upstream)} ` +
        `| ${us(viaForwarder.cpu.client)} / ${us(viaForwarder.cpu.upstream)} / ${us(viaForwarder.cpu.proxy)} ` +
        `| ${us(viaGateway.cpu.client)} / ${us(viaGateway.cpu.upstream)} / **${us(viaGateway.cpu.proxy)}** |`,
    );
  }
  console.log(`calls per run: ${CALLS}, node ${process.version}`);
  console.log('| concurrency | p50 ms direct / gateway (added) | p99 ms direct / gateway (added) | calls/s direct / gateway (ratio) |');
  console.log('|---|---|---|---|');
  for (const row of rows) console.log(row);
  console.log('');
  console.log('| concurrency | bare forwarder p50 ms (added to direct) | p99 ms (added) | calls/s (of direct) | gateway over the forwarder: p50 added, calls/s |');
  console.log('|---|---|---|---|---|');
  for (const row of floorRows) console.log(row);
  console.log('');
  console.log('| concurrency | CPU µs per call, direct: client / upstream | bare forwarder: client / upstream / forwarder | gateway: client / upstream / gateway |');
  console.log('|---|---|---|---|');
  for (const row of cpuRows) console.log(row);
} finally {
  forwarder.child.kill();
  gateway.child.kill();
  upstream.child.kill();
}
