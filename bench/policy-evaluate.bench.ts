/**
 * evaluate() latency on a generated 1,000-rule policy (target: p99 ≤ 20 µs, issue 3).
 * Run: npx tsx bench/policy-evaluate.bench.ts   Results: bench/POLICY.md.
 *
 * Measures three things: steady state (the tool-name memo warm, as in a running gateway), cold lookups
 * (each tool name's first call, scanning exact keys and ranked globs), and loadPolicy for the same policy.
 */
import { cpus } from 'node:os';

import { evaluate, type CallInput } from '../server/src/policy/evaluate.js';
import { loadPolicy } from '../server/src/policy/load.js';

const RULES = 1_000;
const SERVERS = ['github', 'stripe', 'support', 'files'];

/** Deterministic PRNG so runs are comparable. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

function buildPolicy(): { text: string; names: string[] } {
  const tools: Record<string, unknown> = {};
  const names: string[] = [];
  for (let i = 0; i < RULES; i++) {
    const server = SERVERS[i % SERVERS.length] ?? 'x';
    const name = `tool_${i}_op`;
    names.push(name);
    // 60% bare exact keys, 20% server-qualified, 20% globs of three shapes.
    const key = i % 10 < 6 ? name : i % 10 < 8 ? `${server}__${name}` : i % 3 === 0 ? `tool_${i}_*` : i % 3 === 1 ? `*_${i}_op` : `tool_*${i}*`;
    tools[key] = {
      ...(i % 7 === 0 && { action: 'require_approval', approval: { approvers: ['slack:U024BE7LH'] } }),
      deny_if: [
        { path: 'args.amount', op: 'gt', value: 10_000 + i },
        { path: 'args.target', op: 'regex', value: `^prod-${i}-` },
      ],
      require: [{ path: 'args.reason', op: 'exists' }],
      require_approval_if: [{ path: 'args.currency', op: 'not_in', value: ['usd', 'eur'] }],
      limits: [{ counter: `rate_${i}`, window: 'minute', max: 30, scope: 'grant' }],
    };
  }
  const policy = {
    version: '1',
    default: 'deny',
    approval: { approvers: ['group:oncall'] },
    hide: Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? `delete_${i}_*` : `admin_${i}`)),
    all_tools: { limits: [{ counter: 'all_calls', window: 'minute', max: 600 }, { counter: 'per_agent', window: 'hour', max: 5_000, scope: 'agent' }] },
    tools,
  };
  return { text: JSON.stringify(policy, null, 2), names };
}

function buildCalls(names: string[], count: number): CallInput[] {
  const next = random(42);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  return Array.from({ length: count }, (_, i) => {
    const kind = i % 10;
    // Mostly listed tools, some unknown ones (default deny) and hidden ones.
    const tool = kind < 8 ? pick(names) : kind === 8 ? `unknown_${Math.floor(next() * 500)}` : `delete_${2 * Math.floor(next() * 25)}_x`;
    return {
      caller: { grant: `grant-${i % 20}`, agent: `agent-${i % 7}` },
      server: pick(SERVERS),
      tool,
      args: { amount: Math.floor(next() * 20_000), target: next() < 0.1 ? 'prod-1-db' : 'staging', reason: next() < 0.9 ? 'ticket' : undefined, currency: pick(['usd', 'eur', 'gbp']) },
    };
  });
}

function percentiles(samples: number[]): Record<string, string> {
  const sorted = Float64Array.from(samples).sort();
  const at = (q: number) => (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0).toFixed(2);
  return { n: String(sorted.length), p50: at(0.5), p90: at(0.9), p99: at(0.99), 'p99.9': at(0.999), max: at(1) };
}

function timeEach(calls: readonly CallInput[], run: (call: CallInput) => void): number[] {
  const samples: number[] = [];
  for (const call of calls) {
    const start = process.hrtime.bigint();
    run(call);
    samples.push(Number(process.hrtime.bigint() - start) / 1_000);
  }
  return samples;
}

const { text, names } = buildPolicy();

const loadSamples: number[] = [];
let loaded = loadPolicy(text);
for (let i = 0; i < 20; i++) {
  const start = process.hrtime.bigint();
  loaded = loadPolicy(text);
  loadSamples.push(Number(process.hrtime.bigint() - start) / 1_000_000);
}
if (!loaded.ok) throw new Error(`generated policy is invalid: ${JSON.stringify(loaded.problems.slice(0, 3))}`);
const policy = loaded.policy;

const calls = buildCalls(names, 200_000);
const actions = new Map<string, number>();
for (const call of calls.slice(0, 50_000)) {
  const { action } = evaluate(policy, call);
  actions.set(action, (actions.get(action) ?? 0) + 1);
}
const steady = timeEach(calls, (call) => evaluate(policy, call));

// Cold: a fresh compile per round, every distinct name's first call (no memo), 1,000 names per round.
const cold: number[] = [];
for (let round = 0; round < 5; round++) {
  const fresh = loadPolicy(text);
  if (!fresh.ok) throw new Error('unreachable');
  const firstCalls = names.map((tool, i) => ({ ...calls[i]!, tool, server: SERVERS[(i + round) % SERVERS.length]! }));
  cold.push(...timeEach(firstCalls, (call) => evaluate(fresh.policy, call)));
}

const loadMs = percentiles(loadSamples);
console.log(`node ${process.version}, ${cpus()[0]?.model ?? 'unknown cpu'} x${cpus().length}`);
console.log(`policy: ${RULES} tool rules (600 bare, 200 qualified, 200 globs), 50 hide entries, 2 all_tools limits; ${text.length} bytes`);
console.log('decision mix (first 50k calls):', Object.fromEntries(actions));
console.log('evaluate, steady state (µs):', percentiles(steady));
console.log('evaluate, cold first call per tool name (µs):', percentiles(cold));
console.log(`loadPolicy (ms): p50 ${loadMs.p50}, max ${loadMs.max}`);
