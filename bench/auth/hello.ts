import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ServerReady } from './protocol.js';

/**
 * The ceiling: a raw node:http server answering every request with a small JSON document, in a process of its own.
 * Nothing a framework-based server does can be faster on this machine, so metadata and JWKS are compared to it.
 */
const BODY = JSON.stringify({ issuer: 'http://127.0.0.1', hello: 'world', response_types_supported: ['code'] });

const server = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(BODY) }).end(BODY);
});
process.on('disconnect', () => process.exit(0));
server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as AddressInfo).port } satisfies ServerReady));
