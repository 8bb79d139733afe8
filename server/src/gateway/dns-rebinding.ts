/**
 * DNS-rebinding protection for every route, the SDK's own rules (createMcpExpressApp's ladder): an explicit
 * allowlist wins; otherwise a localhost bind accepts only localhost Host and Origin values. Requests without an
 * Origin header pass the Origin check (non-browser clients).
 */
import type { RequestHandler } from 'express';

import { hostHeaderValidation, localhostHostValidation, localhostOriginValidation, originValidation } from '@modelcontextprotocol/express';

import type { Config } from '../config/schema.js';

const LOCALHOST = ['127.0.0.1', 'localhost', '::1'];

export function dnsRebindingProtection(listen: Config['listen']): RequestHandler[] {
  const local = LOCALHOST.includes(listen.host);
  const guards: RequestHandler[] = [];
  if (listen.allowedHosts) guards.push(hostHeaderValidation(listen.allowedHosts));
  else if (local) guards.push(localhostHostValidation());
  if (listen.allowedOrigins) guards.push(originValidation(listen.allowedOrigins));
  else if (local) guards.push(localhostOriginValidation());
  return guards;
}
