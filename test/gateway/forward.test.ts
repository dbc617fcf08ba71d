import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { forwardRequest } from '../../src/gateway/forward.ts';

/**
 * The keep-alive race: the next hop closes a pooled connection just as a
 * request goes out on it. A GET (nothing to replay) is sent again on a new
 * connection; a request with a body is not, and fails with a coded error.
 */
describe('forwardRequest over a kept-alive connection the next hop closes', () => {
  let backend: http.Server;
  let front: http.Server;
  let frontPort: number;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

  before(async () => {
    const served = new WeakMap<object, number>();
    backend = http.createServer((req, res) => {
      const n = (served.get(req.socket) ?? 0) + 1;
      served.set(req.socket, n);
      // The second request on any connection finds it closed under it, as after an idle timeout.
      if (n === 2) {
        req.socket.destroy();
        return;
      }
      req.resume();
      req.on('end', () => res.end(`served ${req.method} ${req.url}`));
    });
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
    const backendPort = (backend.address() as AddressInfo).port;
    front = http.createServer((req, res) =>
      void forwardRequest(req, res, { protocol: 'http:', host: '127.0.0.1', port: backendPort, agent, headers: {}, timeoutMs: 5_000, unavailableCode: 'IL_ERR_UPSTREAM_UNAVAILABLE', maxBodyBytes: 1_000_000 }),
    );
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
    frontPort = (front.address() as AddressInfo).port;
  });
  after(() => {
    agent.destroy();
    front?.close();
    backend?.close();
  });

  const call = (method: string, body?: string) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const request = http.request({ host: '127.0.0.1', port: frontPort, method, path: '/x', agent: false }, (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      request.on('error', reject);
      request.end(body);
    });

  test('a GET on the closed connection is sent again on a new one and answered', async () => {
    assert.equal((await call('GET')).status, 200);
    const second = await call('GET');
    assert.equal(second.status, 200, second.text);
    assert.equal(second.text, 'served GET /x');
  });

  test('a POST with a body is not replayed: it fails with IL_ERR_UPSTREAM_UNAVAILABLE', async () => {
    // The retry above opened a second connection that has served one request: this POST is its second.
    const second = await call('POST', 'payload');
    assert.equal(second.status, 502);
    assert.match(second.text, /IL_ERR_UPSTREAM_UNAVAILABLE/);
  });
});
