/**
 * The peers: the same two mTLS 1.3 hops as the gateway pair, built from
 * Debian's nginx and HAProxy with generated configs in a temp dir. Hop 1
 * ("east") requires and verifies the client's certificate and forwards with
 * its own client certificate to hop 2 ("west"), which verifies that and
 * forwards over mTLS to the backend. Each hop is its own single-threaded
 * process, as each gateway is. A third pair, bare Node.js proxies
 * (node-hop.mjs), shows what the runtime itself costs. None evaluates any policy, signs or checks
 * an identity assertion, or writes an audit record.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort } from '../../src/lab/free-port.ts';

export interface Pem {
  readonly cert: string;
  readonly key: string;
}

export interface HopPlan {
  readonly name: string;
  readonly listen: number;
  readonly upstream: number;
  /** Served to the caller and presented to the next hop. */
  readonly identity: Pem;
}

export interface PeerPair {
  readonly name: string;
  readonly version: string;
  readonly port: number;
  readonly processes: readonly ChildProcess[];
  readonly note: string;
}

export function toolVersion(command: string, args: readonly string[]): string | null {
  const run = spawnSync(command, args, { encoding: 'utf8' });
  if (run.error || run.status !== 0) return null;
  const text = `${run.stdout}${run.stderr}`;
  return (text.match(/nginx\/[\d.]+|HAProxy version [\d.]+/)?.[0] ?? text.split('\n')[0] ?? '').trim();
}

function nginxConfig(dir: string, hop: HopPlan, ca: string): string {
  const tmp = join(dir, `tmp-${hop.name}`);
  mkdirSync(tmp, { recursive: true });
  return `daemon off;
master_process off;
worker_processes 1;
error_log ${join(dir, `nginx-${hop.name}.log`)} warn;
pid ${join(dir, `nginx-${hop.name}.pid`)};
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${tmp}/body; proxy_temp_path ${tmp}/proxy; fastcgi_temp_path ${tmp}/fcgi; uwsgi_temp_path ${tmp}/uwsgi; scgi_temp_path ${tmp}/scgi;
  upstream next { server 127.0.0.1:${hop.upstream}; keepalive 128; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:${hop.listen} ssl;
    ssl_protocols TLSv1.3;
    ssl_certificate ${hop.identity.cert};
    ssl_certificate_key ${hop.identity.key};
    ssl_verify_client on;
    ssl_client_certificate ${ca};
    ssl_verify_depth 5;
    keepalive_requests 1000000;
    location / {
      proxy_pass https://next;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_ssl_protocols TLSv1.3;
      proxy_ssl_certificate ${hop.identity.cert};
      proxy_ssl_certificate_key ${hop.identity.key};
      proxy_ssl_session_reuse on;
      proxy_max_temp_file_size 0;
    }
  }
}
`;
}

function haproxyConfig(hop: HopPlan, combined: string, ca: string): string {
  return `global
  nbthread 1
  maxconn 4000
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  option http-keep-alive
  http-reuse always
frontend ${hop.name}
  bind 127.0.0.1:${hop.listen} ssl crt ${combined} ca-file ${ca} verify required ssl-min-ver TLSv1.3
  default_backend next
backend next
  server upstream 127.0.0.1:${hop.upstream} ssl crt ${combined} ca-file ${ca} verify required ssl-min-ver TLSv1.3
`;
}

/** Waits until something accepts TCP connections on the port. */
async function listening(port: number, child: ChildProcess, log: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`proxy exited with ${child.exitCode}: ${readFileSync(log, 'utf8').slice(-500)}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on ${port}; see ${log}`);
}

/** Starts one hop pinned to `cpu`, its output to a log file. */
async function startHop(argv: readonly string[], port: number, cpu: string, log: string): Promise<ChildProcess> {
  const out = openSync(log, 'a');
  // taskset execs the proxy, so the child's pid is the proxy's.
  const child = spawn('taskset', ['-c', cpu, ...argv], { stdio: ['ignore', out, out] });
  await listening(port, child, log);
  return child;
}

/**
 * `east` and `west` are the hops' identities; the backend listens on
 * `backendPort`. Returns the port a workload calls.
 */
export async function startPeerPair(kind: 'nginx' | 'haproxy' | 'node', dir: string, ca: string, east: Pem, west: Pem, backendPort: number, cpu: string): Promise<PeerPair> {
  mkdirSync(dir, { recursive: true });
  const hop2: HopPlan = { name: 'west', listen: await freePort(), upstream: backendPort, identity: west };
  const hop1: HopPlan = { name: 'east', listen: await freePort(), upstream: hop2.listen, identity: east };
  const processes: ChildProcess[] = [];
  for (const hop of [hop2, hop1]) {
    const log = join(dir, `${kind}-${hop.name}.out`);
    if (kind === 'node') {
      processes.push(await startHop([process.execPath, join(import.meta.dirname, 'node-hop.mjs'), String(hop.listen), String(hop.upstream), hop.identity.cert, hop.identity.key, ca], hop.listen, cpu, log));
    } else if (kind === 'nginx') {
      const conf = join(dir, `nginx-${hop.name}.conf`);
      writeFileSync(conf, nginxConfig(dir, hop, ca));
      processes.push(await startHop(['nginx', '-p', dir, '-c', conf], hop.listen, cpu, log));
    } else {
      const combined = join(dir, `haproxy-${hop.name}.pem`);
      writeFileSync(combined, readFileSync(hop.identity.cert, 'utf8') + readFileSync(hop.identity.key, 'utf8'), { mode: 0o600 });
      const conf = join(dir, `haproxy-${hop.name}.cfg`);
      writeFileSync(conf, haproxyConfig(hop, combined, ca));
      processes.push(await startHop(['haproxy', '-db', '-f', conf], hop.listen, cpu, log));
    }
  }
  const version = kind === 'node' ? `node ${process.version}` : kind === 'nginx' ? toolVersion('nginx', ['-v']) : toolVersion('haproxy', ['-v']);
  const note =
    kind === 'node'
      ? 'a bare Node.js https reverse proxy per hop (the runtime the gateway is built on, without any of its checks): the floor for a Node gateway'
      : kind === 'nginx'
        ? 'nginx checks the client chain on each hop; proxy_ssl_verify is off (SVIDs carry only a URI SAN, which nginx cannot match)'
        : 'HAProxy checks the chain both ways (verify required, no host name check)';
  return { name: `${kind} pair`, version: version ?? kind, port: hop1.listen, processes, note };
}
