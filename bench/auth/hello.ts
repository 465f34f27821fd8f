import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { ServerReady } from './protocol.js';

/**
 * The ceiling: a raw node:http server answering every request with a small JSON document, in a process of its own.
 * Nothing a framework-based server does can be faster on this machine, so metadata and JWKS are compared to it.
 */
const BODY = JSON.stringify({ issuer: 'http://127.0.0.1', hello: 'world', response_types_supported: ['code'] });

/**
 * The ceiling for the metadata document itself: at /document, the very bytes Gatehouse's metadata endpoint sends
 * (BENCH_HELLO_DOCUMENT) with the headers every Gatehouse answer on it carries — a request id, CORS, caching — the
 * cheapest way node:http can write them. What a bigger body and those headers cost, whoever sends them.
 */
const DOCUMENT = process.env.BENCH_HELLO_DOCUMENT ?? BODY;

const server = createServer((req, res) => {
  if (req.url === '/document') {
    res
      .writeHead(200, {
        'x-request-id': randomUUID(),
        'access-control-allow-origin': '*',
        'access-control-expose-headers': 'WWW-Authenticate, X-Request-Id, DPoP-Nonce',
        'cache-control': 'public, max-age=60',
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(DOCUMENT),
      })
      .end(DOCUMENT);
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(BODY) }).end(BODY);
});
process.on('disconnect', () => process.exit(0));
server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as AddressInfo).port } satisfies ServerReady));
