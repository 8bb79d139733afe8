import type { JSONRPCMessage } from '../sdk.js';

const REQUEST = new Set(['jsonrpc', 'id', 'method', 'params']);
const NOTIFICATION = new Set(['jsonrpc', 'method', 'params']);
const RESULT = new Set(['jsonrpc', 'id', 'result']);
const ERROR = new Set(['jsonrpc', 'id', 'error']);

/**
 * Admits a parsed value as a JSON-RPC message with the envelope rules of the SDK's `JSONRPCMessageSchema` (kinds,
 * id types, no extra top-level keys), without its walk through params and results: the SDK's Protocol checks each
 * message against its own schemas again before handling it, so what is left to guarantee here is that it gets a
 * well-formed envelope and never a string, an array or null. Anything else throws.
 */
export function toJsonRpcMessage(value: unknown): JSONRPCMessage {
  if (isObject(value) && value.jsonrpc === '2.0' && isEnvelope(value)) return value as JSONRPCMessage;
  throw new Error(`Invalid JSON-RPC message: ${JSON.stringify(value)?.slice(0, 200)}`);
}

function isEnvelope(message: Record<string, unknown>): boolean {
  if (typeof message.method === 'string') {
    if (message.params !== undefined && !isObject(message.params)) return false;
    return 'id' in message ? isId(message.id) && only(message, REQUEST) : only(message, NOTIFICATION);
  }
  if ('result' in message) return isId(message.id) && isObject(message.result) && only(message, RESULT);
  if ('error' in message) return (message.id === undefined || isId(message.id)) && isError(message.error) && only(message, ERROR);
  return false;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isId(value: unknown): boolean {
  return typeof value === 'string' || Number.isInteger(value);
}

function isError(value: unknown): boolean {
  return isObject(value) && Number.isInteger(value.code) && typeof value.message === 'string';
}

function only(message: Record<string, unknown>, keys: Set<string>): boolean {
  for (const key in message) if (!keys.has(key)) return false;
  return true;
}
