/**
 * The SDK seam: every import of the MCP SDK v2 packages that the proxy needs goes through here, so an SDK
 * upgrade touches one folder. Nothing here has logic beyond adapting SDK shapes.
 */
import type { Result, StandardSchemaV1 } from '@modelcontextprotocol/server';

export {
  CLIENT_CAPABILITIES_META_KEY,
  isJsonContentType,
  isLegacyRequest,
  createMcpHandler,
  ProtocolError,
  ProtocolErrorCode,
  SdkError,
  SdkErrorCode,
  SdkHttpError,
  Server,
} from '@modelcontextprotocol/server';
export type {
  ClientCapabilities,
  JSONRPCMessage,
  JSONRPCRequest,
  MessageExtraInfo,
  Notification,
  RequestId,
  Result,
  ServerCapabilities,
  ServerContext,
  Implementation,
  TransportSendOptions,
} from '@modelcontextprotocol/server';
export { serveStdio, StdioServerTransport } from '@modelcontextprotocol/server/stdio';
export { Client, LOG_LEVEL_META_KEY, PROTOCOL_VERSION_META_KEY, SSEClientTransport, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
export type { ClientContext, McpSubscription, SubscriptionFilter, Transport, VersionNegotiationOptions } from '@modelcontextprotocol/client';
export { StdioClientTransport, getDefaultEnvironment } from '@modelcontextprotocol/client/stdio';
export { NodeStreamableHTTPServerTransport, toNodeHandler, toWebRequest } from '@modelcontextprotocol/node';
export { createMcpExpressApp } from '@modelcontextprotocol/express';

/**
 * Accepts any result unchanged. Passing our own schema to `request()` is what keeps upstream results byte for
 * byte: without it the SDK enforces the spec schema and re-serializes (sdk-v2.md §2).
 */
export const passthrough: StandardSchemaV1<Result, Result> = {
  '~standard': { version: 1, vendor: 'airlock', validate: (value) => ({ value: value as Result }) },
};
