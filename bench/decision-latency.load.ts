/**
 * The agent and the approver of bench/approval.bench.ts, in a process of their own so the gateway's numbers are
 * its own: an SDK client makes held calls to the holding instance, the approval's id arrives over /api/stream, the
 * decision is posted to the deciding instance, and the upstream's stamp says when the call reached it.
 * Prints one JSON array of [approval id, when the decision was sent, when the upstream read the call, when its
 * handler ran] (epoch ms).
 */
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { WebSocket } from 'ws';

const [holder, decider, roundsText, token] = process.argv.slice(2) as [string, string, string, string];
const rounds = Number(roundsText);
const passthrough = { '~standard': { version: 1 as const, vendor: 'bench', validate: (value: unknown) => ({ value }) } };

const created: ((id: string) => void)[] = [];
const socket = new WebSocket(`${holder.replace('http', 'ws')}/api/stream`, ['airlock', `bearer.${token}`]);
socket.on('message', (data) => {
  const message = JSON.parse(String(data)) as { type: string; approval?: { id: string } };
  if (message.type === 'created' && message.approval) created.shift()?.(message.approval.id);
});
await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));

const client = new Client({ name: 'bench', version: '1.0.0' });
await client.connect(new StreamableHTTPClientTransport(new URL(`${holder}/mcp`)));
const measured: [string, number, number, number][] = [];
for (let round = 0; round < rounds + 20; round += 1) {
  const id = new Promise<string>((resolve) => created.push(resolve));
  const call = client.request({ method: 'tools/call', params: { name: 'test__stamp', arguments: { round } } }, passthrough);
  const approvalId = await id;
  const decidedAt = performance.timeOrigin + performance.now();
  const response = await fetch(`${decider}/api/approvals/${approvalId}/decision`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: '{"decision":"approve"}',
  });
  if (response.status !== 200) throw new Error(`decision answered ${response.status}`);
  const result = (await call) as { content: { text: string }[] };
  const [readAt, handledAt] = result.content[0]!.text.split(' ').map(Number) as [number, number];
  if (round >= 20) measured.push([approvalId, decidedAt, readAt, handledAt]);
}
await client.close();
socket.close();
process.stdout.write(`${JSON.stringify(measured)}\n`);
process.exit(0);
