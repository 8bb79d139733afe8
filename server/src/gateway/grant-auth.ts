/**
 * Identifies HTTP callers by API key before any MCP traffic: `Authorization: Bearer <key>` is hashed and looked up
 * among the configured grants. The key itself is never kept. With no grants configured the gateway is open to
 * anonymous callers (a local setup); with grants, a missing or wrong key is answered 401.
 */
import { createHash } from 'node:crypto';

import type { NextFunction, Request, Response } from 'express';

import type { Config } from '../config/schema.js';
import type { Caller } from '../pipeline/tool-call.js';
import { sendJsonRpcError } from '../proxy/downstream/json-rpc-http.js';

const ANONYMOUS_GRANT = 'anonymous';

export function grantAuth(grants: Config['grants']) {
  const byHash = new Map(grants.map((grant) => [grant.key_sha256, grant]));
  return (req: Request, res: Response, next: NextFunction) => {
    if (byHash.size === 0) {
      (req as Request & { auth?: unknown }).auth = { token: '', clientId: ANONYMOUS_GRANT, scopes: [], extra: { grant: ANONYMOUS_GRANT } };
      next();
      return;
    }
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    const grant = match ? byHash.get(createHash('sha256').update(match[1]!).digest('hex')) : undefined;
    if (!grant) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="airlock"');
      sendJsonRpcError(res, 401, -32001, match ? 'Unauthorized: unknown API key' : 'Unauthorized: send "Authorization: Bearer <API key>"');
      return;
    }
    (req as Request & { auth?: unknown }).auth = { token: '', clientId: grant.name, scopes: [], extra: { grant: grant.name, agent: grant.agent } };
    next();
  };
}

/** The caller of one MCP request, from what grantAuth attached (the SDK passes it on as ctx.http.authInfo). */
export function callerFromAuth(authInfo: { extra?: Record<string, unknown> } | undefined, session?: string): Caller {
  const grant = typeof authInfo?.extra?.grant === 'string' ? authInfo.extra.grant : ANONYMOUS_GRANT;
  const agent = typeof authInfo?.extra?.agent === 'string' ? authInfo.extra.agent : undefined;
  return { grant, ...(agent !== undefined ? { agent } : {}), ...(session !== undefined ? { session } : {}) };
}
