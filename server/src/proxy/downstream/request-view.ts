/**
 * The request handlers see as `ctx.http.req` when a Node request was answered without the SDK's web adaptation:
 * method, URL and headers, the headers turned into a web `Headers` only if someone reads them. The gateway's own
 * hot path reads the Node headers through `forEachHeader` and never builds one.
 */
import type { IncomingMessage } from 'node:http';

const NODE_HEADERS = Symbol('the Node request headers behind a request view');

type RequestView = Request & { [NODE_HEADERS]?: IncomingMessage['headers'] };

export function requestView(req: IncomingMessage): Request {
  let headers: Headers | undefined;
  const view = {
    method: req.method,
    url: `http://${req.headers.host ?? 'localhost'}${req.url ?? '/'}`,
    [NODE_HEADERS]: req.headers,
    get headers(): Headers {
      if (!headers) {
        headers = new Headers();
        for (const [name, value] of Object.entries(req.headers)) {
          if (Array.isArray(value)) for (const each of value) headers.append(name, each);
          else if (value !== undefined) headers.set(name, value);
        }
      }
      return headers;
    },
  };
  return view as unknown as Request;
}

/** Calls `each` with every header of `request`, lower-case names, repeated headers joined as `Headers` joins them. */
export function forEachHeader(request: Request, each: (value: string, name: string) => void): void {
  const node = (request as RequestView)[NODE_HEADERS];
  if (!node) {
    request.headers.forEach(each);
    return;
  }
  for (const name in node) {
    const value = node[name];
    if (value !== undefined) each(Array.isArray(value) ? value.join(', ') : value, name);
  }
}
