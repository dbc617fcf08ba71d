import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PolicyState } from './policy-state.ts';
import type { IdentitySource } from './identity-source.ts';
import type { GatewayConfig } from './config.ts';
import { gatewayHealth } from './health.ts';
import type { TrustState } from './trust-state.ts';
import type { GatewayMetrics } from '../telemetry/gateway-metrics.ts';

/**
 * The gateway's admin port (plain HTTP: bind it to loopback or a pod-local
 * address). /healthz: the process is alive, with the policy and identity
 * state as JSON. /readyz: 200 only while a fresh policy bundle is in force,
 * so a load balancer stops sending traffic to a gateway that can only deny.
 * POST /renew renews the gateway's SVID at once. GET /metrics: Prometheus.
 */
export function startAdminServer(options: { listen: { host: string; port: number }; config: GatewayConfig; policy: PolicyState; identity: IdentitySource; trust: TrustState; metrics: GatewayMetrics }): Promise<{ address: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const send = (status: number, value: unknown) => {
      const text = JSON.stringify(value);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
    };
    const url = new URL(req.url ?? '/', 'http://admin');
    if (url.pathname === '/renew' && req.method === 'POST') {
      // Renew the gateway's SVID now (after a CA rotation, or to rehearse one); traffic keeps flowing.
      void options.identity.renewNow().then(
        (next) => send(200, { renewed: next.spiffeId.id }),
        (error: Error & { code?: string }) => send(409, { error: { code: error.code ?? 'IL_ERR_INTERNAL', message: error.message } }),
      );
      return;
    }
    if (url.pathname === '/metrics' && req.method === 'GET') {
      // Prometheus text exposition format 0.0.4.
      void options.metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': options.metrics.registry.contentType }).end(text),
        (error: Error) => send(500, { error: { code: 'IL_ERR_INTERNAL', message: error.message } }),
      );
      return;
    }
    if (url.pathname !== '/healthz' && url.pathname !== '/readyz') {
      send(404, { error: { code: 'IL_ERR_NOT_FOUND', message: `no route ${url.pathname}` } });
      return;
    }
    // ?probe=peers adds a real mTLS handshake to every peer gateway (interlock check asks for it).
    void gatewayHealth({ config: options.config, identity: options.identity, policy: options.policy, trust: options.trust, probePeers: url.searchParams.get('probe') === 'peers' }).then((body) => {
      if (url.pathname === '/healthz') return send(200, { status: 'alive', ...body });
      return body.policy.state === 'fresh' ? send(200, { status: 'ready', ...body }) : send(503, { status: `not ready: policy ${body.policy.state}`, ...body });
    }, (error: Error) => send(500, { error: { code: 'IL_ERR_INTERNAL', message: error.message } }));
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
