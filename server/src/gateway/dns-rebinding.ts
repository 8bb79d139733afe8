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

/** How many Host/Origin pairs the yes/no below remembers; past that it starts over, so no sender can grow it. */
const REMEMBERED_PAIRS = 256;

/**
 * The same rules as one yes/no, for a path that answers a refusal through the middleware above. An agent sends the
 * same Host and Origin on every call, and the SDK's checks parse each as a URL, which measured about 20 µs a call
 * on the proxy path, so verdicts are remembered per pair.
 */
export function hostAndOriginAllowed(listen: Config['listen']): (headers: IncomingHttpHeaders) => boolean {
  const { hosts, origins } = allowlists(listen);
  const verdicts = new Map<string, boolean>();
  return ({ host, origin }) => {
    // A header value never holds a line feed (Node refuses one), so the pair's key is unambiguous.
    const key = `${host ?? ''}\n${origin ?? ''}`;
    let allowed = verdicts.get(key);
    if (allowed === undefined) {
      allowed = (!hosts || validateHostHeader(host, hosts).ok) && (!origins || validateOriginHeader(origin, origins).ok);
      if (verdicts.size >= REMEMBERED_PAIRS) verdicts.clear();
      verdicts.set(key, allowed);
    }
    return allowed;
  };
}
