/**
 * The floor for any gateway on this machine: a keep-alive HTTP forwarder that passes every request and response
 * through untouched (no JSON parsing, no policy, no audit, no MCP SDK). proxy-overhead.bench.ts measures it in the
 * same run as the direct connection and `airlock serve`, so what the gateway adds can be read against what the two
 * extra loopback hops alone cost.
 *
 *   node --import tsx bench/bare-forwarder.ts <upstream url>     (prints "listening on <url>" on stderr)
 */
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream';

const target = new URL(process.argv[2] ?? '');
const agent = new Agent({ keepAlive: true });

const server = createServer((req, res) => {
  const upstream = request(
    { hostname: target.hostname, port: target.port, path: target.pathname, method: req.method, headers: { ...req.headers, host: target.host }, agent },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      pipeline(answer, res, () => undefined);
    },
  );
  upstream.on('error', () => res.destroy());
  pipeline(req, upstream, () => undefined);
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stderr.write(`listening on http://127.0.0.1:${port}${target.pathname}\n`);
});
