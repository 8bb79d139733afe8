/**
 * Approval path, one instance on embedded PGlite:
 *   A. from a decision arriving (POST /api/approvals/:id/decision) to the upstream receiving the call, p50/p99,
 *      with the agent and the approver in a process of their own (bench/decision-latency.load.ts);
 *   B. 10,000 calls held at once: memory above idle and the longest event-loop stall while they are held.
 * Held calls in B come from a separate load process speaking raw Streamable HTTP, so the gateway's numbers are
 * its own.
 *
 *   npx tsx bench/approval.bench.ts            (ROUNDS=1000 after WARMUP=20, HELD=10000 by default; HELD=0 runs only A)
 *
 * With DATABASE_URL and REDIS_URL set, A also runs across two gateway instances: the call is held on one and the
 * decision arrives at the other's API (the scaled path: PostgreSQL, then Redis pub/sub to the holding instance).
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

import type { JSONRPCMessage } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import type { RequestHandler } from 'express';

import { parseConfig } from '../server/src/config/load.js';
import { resolveRedisUrl } from '../server/src/config/redis-url.js';
import { createEventBus } from '../server/src/bus/create-event-bus.js';
import { createGateway } from '../server/src/gateway/create-gateway.js';
import { openStorage } from '../server/src/gateway/open-storage.js';
import { createLogger } from '../server/src/log/logger.js';
import { PolicyWatcher } from '../server/src/policy/policy-watcher.js';
import { systemClock } from '../server/src/util/clock.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ROUNDS = Number(process.env.ROUNDS ?? 1000);
const WARMUP = Number(process.env.WARMUP ?? 20);
const HELD = Number(process.env.HELD ?? 10_000);
const TOKEN = 'bench-admin-token';

const dir = await mkdtemp(join(tmpdir(), 'airlock-approval-bench-'));
await writeFile(
  join(dir, 'policy.json'),
  JSON.stringify({ version: '1', default: 'allow', tools: { stamp: { action: 'require_approval', approval: { approvers: ['web:admin'] } }, echo: { action: 'require_approval', approval: { approvers: ['web:admin'] } } } }),
);
const logger = createLogger('warn');
const config = parseConfig(
  {
    listen: { port: 0 },
    servers: { test: { command: process.execPath, args: ['--import', 'tsx', `${ROOT}test/fixtures/test-upstream.ts`] } },
    approvals: { syncCap: '1h', heartbeat: '1h' },
    database: { dataDir: join(dir, 'data') },
    sessions: { maxRequestBody: '1mb' },
  },
  'bench',
  { AIRLOCK_DATA_DIR: '', DATABASE_URL: '' },
);
const policy = await PolicyWatcher.open(join(dir, 'policy.json'), logger);
const redisUrl = resolveRedisUrl(config);
const scaled = Boolean(process.env.DATABASE_URL && redisUrl);
const channelPrefix = `airlock-bench-${process.pid}:`;
// When each decision reached a gateway (its request headers parsed), by approval id.
const arrivals = new Map<string, number>();
const stampArrival: RequestHandler = (req, _res, next) => {
  const decision = req.method === 'POST' ? /^\/api\/approvals\/([^/]+)\/decision$/.exec(req.path) : null;
  if (decision) arrivals.set(decision[1]!, performance.timeOrigin + performance.now());
  next();
};
async function startInstance() {
  const bus = scaled ? createEventBus({ redisUrl, logger, channelPrefix }) : undefined;
  const storage = await openStorage(config, logger, systemClock, { bus });
  const gateway = createGateway({ config, logger, policy, approvals: storage.approvals, audit: storage.audit, adminToken: TOKEN, routes: [stampArrival] });
  const { url } = await gateway.listen();
  return { storage, gateway, url, bus };
}
// A probe, not part of the gateway: when the gateway writes each round's call to the upstream's stdin, which splits
// the measure into the gateway's part (arrival → written) and the upstream process being woken to read it.
const writtenAt = new Map<number, number>();
const send = StdioClientTransport.prototype.send;
StdioClientTransport.prototype.send = function (this: StdioClientTransport, message: JSONRPCMessage) {
  const params = (message as { params?: { name?: unknown; arguments?: { round?: unknown } } }).params;
  if (params?.name === 'stamp' && typeof params.arguments?.round === 'number') writtenAt.set(params.arguments.round, performance.timeOrigin + performance.now());
  return send.call(this, message);
};
const holder = await startInstance();
const { storage, gateway, url } = holder;
const decider = scaled ? await startInstance() : holder;

// Idle: the gateway listening, before any call. RSS does not shrink back after a busy phase, so it is taken first.
global.gc?.();
const idle = process.memoryUsage();

// ---- A. decision → upstream, measured from a separate process ----
/**
 * Milliseconds to the upstream, sorted: from the decision's arrival at the gateway to the upstream reading the call
 * (what the budget names), and for reference from the approver's send, from arrival to the upstream's handler
 * running (which adds the upstream SDK's own parsing and dispatch), and the budget's measure in two parts: arrival
 * until the gateway has written the call to the upstream's stdin, and from then until the upstream reads it.
 */
async function decisionToUpstream(
  decideAt: string,
): Promise<{ fromArrival: number[]; fromSend: number[]; toHandler: number[]; toWrite: number[]; toRead: number[] }> {
  writtenAt.clear();
  const child = fork(`${ROOT}bench/decision-latency.load.ts`, [url, decideAt, String(ROUNDS), TOKEN, String(WARMUP)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await once(child, 'exit');
  const measured = JSON.parse(output.trim().split('\n').at(-1)!) as [string, number, number, number][];
  const sorted = (values: number[]) => values.sort((a, b) => a - b);
  return {
    fromArrival: sorted(measured.map(([id, , read]) => read - arrivals.get(id)!)),
    fromSend: sorted(measured.map(([, sent, read]) => read - sent)),
    toHandler: sorted(measured.map(([id, , , handled]) => handled - arrivals.get(id)!)),
    // Rounds run one at a time, the warm-up first.
    toWrite: sorted(measured.map(([id], i) => writtenAt.get(WARMUP + i)! - arrivals.get(id)!)),
    toRead: sorted(measured.map(([, , read], i) => read - writtenAt.get(WARMUP + i)!)),
  };
}
const quantile = (values: number[], q: number) => values[Math.min(values.length - 1, Math.floor(q * values.length))]!;
const latencies = await decisionToUpstream(url);
const acrossInstances = scaled ? await decisionToUpstream(decider.url) : undefined;

// ---- B. 10,000 held calls (HELD=0 skips it) ----
// Also just before holding: PGlite's share of RSS at idle varies by hundreds of MB from one start to the next,
// so the growth while holding is read against this as well.
global.gc?.();
const beforeHolding = process.memoryUsage();
const delay = monitorEventLoopDelay({ resolution: 10 });
const load = HELD > 0 ? fork(`${ROOT}bench/held-calls.load.ts`, [url, String(HELD)], { execArgv: ['--import', 'tsx'], stdio: 'inherit' }) : undefined;
const started = performance.now();
await new Promise<void>((resolve) => {
  let created = 0;
  if (HELD === 0) resolve();
  storage.approvals.subscribe((event) => {
    if (event.type === 'created' && ++created === HELD) resolve();
  });
});
const allHeldAfter = performance.now() - started;
delay.enable();
if (load) await new Promise((resolve) => setTimeout(resolve, 5000));
delay.disable();
global.gc?.();
const held = process.memoryUsage();
load?.kill('SIGKILL');

console.log(`node ${process.version}, PGlite, rounds ${ROUNDS}, held ${HELD}`);
console.log('| measure | result | budget |');
console.log('|---|---|---|');
for (const [what, values] of [
  ['decision arrives at the gateway → upstream reads the call', latencies.fromArrival],
  ['decision is sent by the approver → upstream reads the call', latencies.fromSend],
  ["decision arrives at the gateway → upstream's handler runs", latencies.toHandler],
  ['of the budget: decision arrives → the gateway has written the call to the upstream', latencies.toWrite],
  ['of the budget: written → the upstream process reads it', latencies.toRead],
] as const) {
  console.log(`| ${what}, p50 | ${quantile(values, 0.5).toFixed(2)} ms | |`);
  console.log(`| ${what}, p99 | ${quantile(values, 0.99).toFixed(2)} ms | ${what.includes('handler') || what.startsWith('of the') ? '' : '≤ 5 ms'} |`);
}
if (acrossInstances) {
  console.log(`| decision arrives at B → upstream on A reads the call, p50 | ${quantile(acrossInstances.fromArrival, 0.5).toFixed(2)} ms | |`);
  console.log(`| decision arrives at B → upstream on A reads the call, p99 | ${quantile(acrossInstances.fromArrival, 0.99).toFixed(2)} ms | ≤ 20 ms |`);
}
console.log(`| time to hold ${HELD} calls (approval row + audit event, one transaction each) | ${(allHeldAfter / 1000).toFixed(1)} s | |`);
// PGlite's WASM memory (counted in `external`) is reserved at start and partly returned later, so RSS moves by
// hundreds of MB between runs whatever is held; the JS heap is what the held calls themselves cost.
const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(0);
console.log(`| RSS idle → just before holding → with ${HELD} held | ${mb(idle.rss)} → ${mb(beforeHolding.rss)} → ${mb(held.rss)} MB | < 300 MB above idle |`);
console.log(`| JS heap used just before holding → with ${HELD} held | ${mb(beforeHolding.heapUsed)} → ${mb(held.heapUsed)} MB | |`);
console.log(`| external (PGlite's WASM memory among it) just before holding → with ${HELD} held | ${mb(beforeHolding.external)} → ${mb(held.external)} MB | |`);
console.log(`| longest event-loop stall while held (5 s window) | ${(delay.max / 1e6).toFixed(1)} ms | ≤ 50 ms |`);

for (const instance of scaled ? [holder, decider] : [holder]) {
  await instance.gateway.close();
  await instance.storage.close();
  await instance.bus?.close();
}
policy.close();
process.exit(0);
