import type { Logger } from '../../log/logger.js';
import type { UpstreamConfig } from '../../config/schema.js';
import { getDefaultEnvironment, type RequestId, SSEClientTransport, StdioClientTransport, type Transport } from '../sdk.js';
import { boundedFetch } from './bounded-fetch.js';
import { FastPostTransport, type MessageLimit } from './fast-post-transport.js';
import { deliverInOrder } from './ordered-transport.js';
import { parseByteSize } from '../../util/byte-size.js';

/** A transport that may know which of our requests an upstream request was sent within (see FastPostTransport). */
export type UpstreamTransport = Transport & Partial<Pick<FastPostTransport, 'relatedRequestOf'>>;

/**
 * Builds the client transport for one upstream from its config: a stdio child, Streamable HTTP or legacy SSE.
 * `dropped` hears of each message over HTTP larger than the upstream's maxMessageSize, which the transport drops.
 */
export function createUpstreamTransport(name: string, config: UpstreamConfig, logger: Logger, dropped?: () => void): UpstreamTransport {
  return deliverInOrder(createRawTransport(name, config, logger, dropped));
}

/** The upstream's maxMessageSize, and how messages about it name the upstream and the setting. */
export function messageLimit(name: string, config: UpstreamConfig): MessageLimit {
  return { maxBytes: parseByteSize(config.maxMessageSize), upstream: `Upstream "${name}"`, setting: `servers.${name}.maxMessageSize (${config.maxMessageSize})` };
}

function createRawTransport(name: string, config: UpstreamConfig, logger: Logger, dropped?: () => void): UpstreamTransport {
  if (config.command !== undefined) {
    const transport = new StdioClientTransport({
      command: config.command,
      args: config.args,
      // The child gets only a minimal environment plus what the config names: secrets are passed on purpose.
      env: { ...getDefaultEnvironment(), ...config.env },
      cwd: config.cwd,
      stderr: 'pipe',
      // A longer line closes the transport (the SDK's ReadBuffer), so the child is restarted.
      maxBufferSize: parseByteSize(config.maxMessageSize),
    });
    // Upstream stderr goes to our log, never to our stdout (which may be the stdio downstream).
    transport.stderr?.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() !== '') logger.debug({ upstream: name }, line);
      }
    });
    return transport;
  }
  const url = new URL(config.url as string);
  const limit = messageLimit(name, config);
  const sdkFetch = boundedFetch(limit, dropped);
  if (config.transport === 'sse') return new SSEClientTransport(url, { requestInit: { headers: config.headers }, fetch: sdkFetch });
  return new FastPostTransport(url, config.headers, limit, sdkFetch);
}
