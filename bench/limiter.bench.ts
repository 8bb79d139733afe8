/**
 * Latency of one limit check (`consume`) on the memory and Redis stores. Run: `npx tsx bench/limiter.bench.ts`
 * (Redis at REDIS_URL, default redis://127.0.0.1:6379; `STORES=memory` skips it). Results go in bench/LIMITER.md.
 *
 * Each call matches two limits, as a typical tool call does: 60/min for its grant and a global 1,000,000/min.
 * Calls run one at a time (c=1) after an untimed warm-up that fills the windows, so the steady state includes
 * pruning. "many grants" calls go round 1,000 grants and are mostly admitted; "few grants" go round 10, so most
 * are denied and pay for the retry-after walk over a full window.
 */
import { randomUUID } from 'node:crypto';
import { cpus } from 'node:os';
import { Redis } from 'ioredis';
import type { LimitRequest, LimitStore } from '../server/src/limits/limit-store.js';
import { MemoryLimitStore } from '../server/src/limits/memory-limit-store.js';
import { RedisLimitStore } from '../server/src/limits/redis-limit-store.js';
import { ManualClock } from '../server/src/util/clock.js';

interface Scenario {
  name: string;
  grants: number;
}

const SCENARIOS: Scenario[] = [
  { name: 'many grants', grants: 1000 },
  { name: 'few grants', grants: 10 },
];

function requests(i: number, grants: number): LimitRequest[] {
  const limit = (key: string, max: number, rule: string): LimitRequest => {
    return { key, counter: key.split(':')[0]!, windowMs: 60_000, max, cost: 1, onExceed: 'deny', rule };
  };
  return [
    limit(`grant_calls:grant:g${i % grants}`, 60, '/all_tools/limits/0'),
    limit('all_calls:global', 1_000_000, '/all_tools/limits/1'),
  ];
}

/** Times `calls` sequential consumes after `warmUp` untimed ones; `tick` runs before each (to move a clock). */
async function measure(store: LimitStore, scenario: Scenario, warmUp: number, calls: number, tick = () => {}) {
  for (let i = 0; i < warmUp; i++) {
    tick();
    await store.consume(requests(i, scenario.grants));
  }
  const samples = new Float64Array(calls);
  let admitted = 0;
  for (let i = 0; i < calls; i++) {
    tick();
    const started = process.hrtime.bigint();
    const check = await store.consume(requests(warmUp + i, scenario.grants));
    samples[i] = Number(process.hrtime.bigint() - started) / 1000;
    if (check.allowed) admitted++;
  }
  samples.sort();
  const at = (q: number) => samples[Math.min(calls - 1, Math.floor(q * calls))]!;
  return { calls, p50: at(0.5), p90: at(0.9), p99: at(0.99), p999: at(0.999), admitted: admitted / calls };
}

function row(store: string, scenario: Scenario, r: Awaited<ReturnType<typeof measure>>, unit: 'µs' | 'ms'): string {
  const f = (us: number) => (unit === 'µs' ? us.toFixed(2) : (us / 1000).toFixed(3));
  const percentiles = [r.p50, r.p90, r.p99, r.p999].map(f);
  const admitted = `${(r.admitted * 100).toFixed(1)} %`;
  return `| ${store} | ${scenario.name} | ${r.calls} | ${percentiles.join(' | ')} | ${admitted} |`;
}

console.log(`node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}\n`);
console.log('| store (unit) | scenario | calls | p50 | p90 | p99 | p99.9 | admitted |');
console.log('|---|---|---|---|---|---|---|---|');

for (const scenario of SCENARIOS) {
  // 0.9 ms per call: with 1,000 grants each one gets ~67 calls a minute against its 60.
  const clock = new ManualClock();
  const memory = new MemoryLimitStore({ clock });
  const result = await measure(memory, scenario, 200_000, 500_000, () => clock.advance(0.9));
  console.log(row('memory (µs)', scenario, result, 'µs'));
  await memory.close();
}

if ((process.env['STORES'] ?? 'memory,redis').split(',').includes('redis')) {
  const url = process.env['REDIS_URL'] || 'redis://127.0.0.1:6379';
  const keyPrefix = `airlock:bench:${randomUUID()}:`;
  for (const scenario of SCENARIOS) {
    const redis = new RedisLimitStore({ url, keyPrefix: `${keyPrefix}${scenario.grants}:` });
    const result = await measure(redis, scenario, 5_000, 50_000);
    console.log(row('redis, server clock (ms)', scenario, result, 'ms'));
    await redis.close();
  }

  const admin = new Redis(url);
  const version = /redis_version:(\S+)/.exec(await admin.info('server'))?.[1];
  const keys = await admin.keys(`${keyPrefix}*`);
  if (keys.length > 0) await admin.del(...keys);
  await admin.quit();
  console.log(`\nredis ${version} at ${new URL(url).host}`);
}
console.log('\nbudgets: memory p99 ≤ 10 µs, redis p99 ≤ 1.5 ms');
