import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * A free loopback port for a lab process to listen on, from below the
 * kernel's ephemeral range. A port the kernel hands out for `listen(0)` is
 * also one it hands out as the local port of outgoing connections, so
 * between picking it and the child binding it, any connection on the machine
 * could take it (seen: a gateway failing with EADDRINUSE while many tests
 * ran). Ports below the range are only ever taken by an explicit bind.
 */
const FALLBACK_RANGE = { low: 20_000, high: 32_767 };

function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 2_048 ? low : FALLBACK_RANGE.high + 1;
  } catch {
    return FALLBACK_RANGE.high + 1;
  }
}

function tryBind(port: number, host: string): Promise<number | null> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(null));
    server.listen(port, host, () => {
      const address = server.address();
      const bound = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(bound || null));
    });
  });
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  const high = Math.min(ephemeralLow() - 1, 65_535);
  const low = Math.min(FALLBACK_RANGE.low, high - 1_000);
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await tryBind(low + Math.floor(Math.random() * (high - low + 1)), host);
    if (port) return port;
  }
  // Everything tried was taken: let the kernel choose (and accept its small race).
  const port = await tryBind(0, host);
  if (!port) throw new Error(`no free port on ${host}`);
  return port;
}
