import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';

import { describe, expect, it } from 'vitest';

import { forEachHeader, requestView } from './request-view.js';

function nodeRequest(headers: IncomingMessage['headers']): IncomingMessage {
  const req = new IncomingMessage(new Socket());
  req.method = 'POST';
  req.url = '/mcp/test';
  req.headers = headers;
  return req;
}

const collect = (request: Request) => {
  const seen: [string, string][] = [];
  forEachHeader(request, (value, name) => seen.push([name, value]));
  return seen.sort(([a], [b]) => a.localeCompare(b));
};

describe('requestView', () => {
  const headers = { host: 'gw.example:8787', 'mcp-param-region': 'eu-west-1', 'x-forwarded-for': '10.0.0.1, 10.0.0.2', 'set-cookie': ['a=1', 'b=2'] };

  it('shows the method, the URL and the headers as a web Request would', () => {
    const view = requestView(nodeRequest(headers));
    expect(view.method).toBe('POST');
    expect(view.url).toBe('http://gw.example:8787/mcp/test');
    expect(view.headers.get('mcp-param-region')).toBe('eu-west-1');
    expect(view.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
  });

  it('gives forEachHeader the Node headers, joined as Headers joins them, without building Headers', () => {
    const view = requestView(nodeRequest(headers));
    const fromNode = collect(view);
    expect(fromNode).toEqual([
      ['host', 'gw.example:8787'],
      ['mcp-param-region', 'eu-west-1'],
      ['set-cookie', 'a=1, b=2'],
      ['x-forwarded-for', '10.0.0.1, 10.0.0.2'],
    ]);
    const fromWeb: [string, string][] = [];
    view.headers.forEach((value, name) => fromWeb.push([name, value]));
    expect(fromNode.filter(([name]) => name !== 'set-cookie')).toEqual(fromWeb.filter(([name]) => name !== 'set-cookie').sort(([a], [b]) => a.localeCompare(b)));
  });

  it('reads a real web Request through its Headers', () => {
    const request = new Request('http://gw.example/mcp', { headers: { 'Mcp-Param-Region': 'us-east-2' } });
    expect(collect(request)).toEqual([['mcp-param-region', 'us-east-2']]);
  });
});
