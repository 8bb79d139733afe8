/**
 * The agent and the approver of bench/approval.bench.ts, in a process of their own so the gateway's numbers are
 * its own: an SDK client makes held calls to the holding instance, the approval's id arrives over /api/stream, the
 * decision is posted to the deciding instance, and the upstream's stamp says when the call reached it.
 * Prints one JSON array of [approval id, when the decision was sent, when the upstream read the call, when its
 * handler ran] (epoch ms).
 */
import { Agent, request } from 'node:http';

import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { WebSocket } from 'ws';

const [holder, decider, roundsText, token, warmupText] = process.argv.slice(2) as [string, string, string, string, string];
const rounds = Number(roundsText);
const warmup = Number(warmupText);
const passthrough = { '~standard': { version: 1 as const, vendor: 'bench', validate: (value: unknown) => ({ value }) } };

const created: ((id: string) => void)[] = [];
const socket = new WebSocket(`${holder.replace('http', 'ws')}/api/stream`, ['airlock', `bearer.${token}`]);
socket.on('message', (data) => {
  const message = JSON.parse(String(data)) as { type: string; approval?: { id: string } };
  if (message.type === 'created' && message.approval) created.shift()?.(message.approval.id);
});
await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));

// node:http on a keep-alive agent rather than fetch: this process shares the two cores with the gateway and the
// upstream, and undici's extra CPU right after the decision delays the upstream being scheduled.
const agent = new Agent({ keepAlive: true });
const body = '{"decision":"approve"}';
function decide(approvalId: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${decider}/api/approvals/${approvalId}/decision`, {
      method: 'POST',
      agent,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    });
    req.once('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once('error', reject);
    req.end(body);
  });
}

const client = new Client({ name: 'bench', version: '1.0.0' });
await client.connect(new StreamableHTTPClientTransport(new URL(`${holder}/mcp`)));
const measured: [string, number, number, number][] = [];
for (let round = 0; round < rounds + warmup; round += 1) {
  const id = new Promise<string>((resolve) => created.push(resolve));
  const call = client.request({ method: 'tools/call', params: { name: 'test__stamp', arguments: { round } } }, passthrough);
  const approvalId = await id;
  const decidedAt = performance.timeOrigin + performance.now();
  const status = await decide(approvalId);
  if (status !== 200) throw new Error(`decision answered ${status}`);
  const result = (await call) as { content: { text: string }[] };
  const [readAt, handledAt] = result.content[0]!.text.split(' ').map(Number) as [number, number];
  if (round >= warmup) measured.push([approvalId, decidedAt, readAt, handledAt]);
}
await client.close();
socket.close();
process.stdout.write(`${JSON.stringify(measured)}\n`);
process.exit(0);
