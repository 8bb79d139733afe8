/**
 * DNS-rebinding protection for every route, the SDK's own rules (createMcpExpressApp's ladder): an explicit
 * allowlist wins; otherwise a localhost bind accepts only localhost Host and Origin values. Requests without an
 * Origin header pass the Origin check (non-browser clients).
 */
import type { IncomingHttpHeaders } from 'node:http';

import type { RequestHandler } from 'express';
import { hostHeaderValidation, originValidation } from '@modelcontextprotocol/express';
import { localhostAllowedHostnames, localhostAllowedOrigins, validateHostHeader, validateOriginHeader } from '@modelcontextprotocol/server';

import type { Config } from '../config/schema.js';

const LOCALHOST = ['127.0.0.1', 'localhost', '::1'];

interface Allowlists {
  hosts?: string[];
  origins?: string[];
}

function allowlists(listen: Config['listen']): Allowlists {
  const local = LOCALHOST.includes(listen.host);
  const hosts = listen.allowedHosts ?? (local ? localhostAllowedHostnames() : undefined);
  const origins = listen.allowedOrigins ?? (local ? localhostAllowedOrigins() : undefined);
  return { ...(hosts ? { hosts } : {}), ...(origins ? { origins } : {}) };
}

/** The guards as Express middleware, which answer a refused request with 403 and the reason. */
export function dnsRebindingProtection(listen: Config['listen']): RequestHandler[] {
  const { hosts, origins } = allowlists(listen);
  return [...(hosts ? [hostHeaderValidation(hosts)] : []), ...(origins ? [originValidation(origins)] : [])];
}

/** The same rules as one yes/no, for a path that answers a refusal through the middleware above. */
export function hostAndOriginAllowed(listen: Config['listen']): (headers: IncomingHttpHeaders) => boolean {
  const { hosts, origins } = allowlists(listen);
  return (headers) => (!hosts || validateHostHeader(headers.host, hosts).ok) && (!origins || validateOriginHeader(headers.origin, origins).ok);
}
