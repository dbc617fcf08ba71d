/**
 * The floor of Node's own HTTP stack: one hop of a bare Node.js mTLS 1.3
 * reverse proxy (node:https server + keep-alive agent, bodies piped), with
 * no identity assertion, policy, audit, metrics or tracing. Run as a plain
 * .mjs (no tsx) so nothing but Node itself is measured.
 *
 *   node node-hop.mjs <listen> <upstream> <cert> <key> <ca>
 */
import https from 'node:https';
import { readFileSync } from 'node:fs';

const [listen, upstream, certFile, keyFile, caFile] = process.argv.slice(2);
const tls = { cert: readFileSync(certFile), key: readFileSync(keyFile), ca: readFileSync(caFile), minVersion: 'TLSv1.3' };
// SVIDs carry only a URI SAN: check the chain, not a host name (as the nginx and HAProxy hops do).
const agent = new https.Agent({ ...tls, keepAlive: true, checkServerIdentity: () => undefined });
const server = https.createServer({ ...tls, requestCert: true, rejectUnauthorized: true, keepAliveTimeout: 60_000 }, (req, res) => {
  const headers = { ...req.headers };
  delete headers.connection;
  const next = https.request({ host: '127.0.0.1', port: Number(upstream), method: req.method, path: req.url, headers, agent }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  next.on('error', () => {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  });
  req.pipe(next);
});
server.listen(Number(listen), '127.0.0.1');
