/**
 * Load generator for bench/approval.bench.ts: one 2025-era session, then N tools/call POSTs that the gateway
 * holds for approval, each an open SSE response. Raw HTTP, so it costs the gateway nothing beyond the protocol.
 */
import { Agent, request } from 'node:http';

const [url, count] = [process.argv[2]!, Number(process.argv[3] ?? 10_000)];
const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-11-25' };

function post(body: unknown, session?: string): Promise<{ session?: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/mcp`, { method: 'POST', agent, headers: { ...headers, ...(session ? { 'mcp-session-id': session } : {}) } }, (res) => {
      resolve({ session: res.headers['mcp-session-id'] as string | undefined });
      res.resume();
    });
    req.once('error', reject);
    req.end(JSON.stringify(body));
  });
}

const { session } = await post({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'load', version: '1' } } });
await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, session);
let failed = 0;
for (let i = 0; i < count; i += 1) {
  void post({ jsonrpc: '2.0', id: i + 1, method: 'tools/call', params: { name: 'test__echo', arguments: { text: `held ${i}` } } }, session).catch((error: Error) => {
    // A refused connection is a result too: the benchmark must not report a number for fewer held calls.
    if (++failed === 1) process.stderr.write(`held-calls.load: call ${i + 1} of ${count}: ${error.message}\n`);
  });
  // Paced at about 200 calls/s, as agents arrive over time: a faster burst overflows the accept queue while
  // the gateway writes approvals, and the kernel resets the connections it dropped.
  if (i % 20 === 19) await new Promise((resolve) => setTimeout(resolve, 100));
}
