import { readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';

/**
 * A port free to listen on, picked below the kernel's ephemeral range: a port from `listen(0)` comes from that range,
 * so between our probe and the real `listen` an outgoing connection of any parallel test could take it as its local
 * port (seen as EADDRINUSE when a server restarts on its own port).
 */
export async function freePort(): Promise<number> {
  const [low, high] = nonEphemeralRange();
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port found between ${low} and ${high}`);
}

function nonEphemeralRange(): [number, number] {
  let ephemeralLow = 32768;
  try {
    ephemeralLow = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || ephemeralLow;
  } catch {
    // Not Linux: 32768 is where Linux and the BSDs start theirs by default, and macOS starts at 49152.
  }
  return [Math.min(10_000, ephemeralLow - 1_000), ephemeralLow];
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** What a new connection to `port` gets: `connected`, or the error code (`ECONNREFUSED` once a server stopped listening). */
export function connectionOutcome(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.on('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
  });
}
