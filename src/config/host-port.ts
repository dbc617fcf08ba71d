/** `host:port` or `[v6]:port` → its parts, brackets removed from the host. The one parser for listen and peer addresses. */
export function splitHostPort(value: string): { host: string; port: number } {
  const at = value.lastIndexOf(':');
  return { host: value.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(value.slice(at + 1)) };
}
