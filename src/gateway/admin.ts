import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PolicyState } from './policy-state.ts';
import type { IdentitySource } from './identity-source.ts';

/**
 * The gateway's admin port (plain HTTP: bind it to loopback or a pod-local
 * address). /healthz: the process is alive, with the policy and identity
 * state as JSON. /readyz: 200 only while a fresh policy bundle is in force,
 * so a load balancer stops sending traffic to a gateway that can only deny.
 */
export function startAdminServer(options: { listen: { host: string; port: number }; cluster: string; policy: PolicyState; identity: IdentitySource }): Promise<{ address: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const policy = options.policy.describe();
    const body = {
      cluster: options.cluster,
      identity: { spiffeId: options.identity.current.spiffeId.id },
      policy,
    };
    const send = (status: number, value: unknown) => {
      const text = JSON.stringify(value);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
    };
    if (req.url === '/healthz') return send(200, { status: 'alive', ...body });
    if (req.url === '/readyz') return policy.state === 'fresh' ? send(200, { status: 'ready', ...body }) : send(503, { status: `not ready: policy ${policy.state}`, ...body });
    send(404, { error: { code: 'IL_ERR_NOT_FOUND', message: `no route ${req.url}` } });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.listen.port, options.listen.host, () => {
      const port = (server.address() as AddressInfo).port;
      resolve({
        address: `${options.listen.host}:${port}`,
        close: () => new Promise((done) => server.close(() => done())),
      });
    });
  });
}
