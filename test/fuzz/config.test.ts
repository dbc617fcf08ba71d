import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import fc from 'fast-check';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { parseConfig } from '../../src/config/load.ts';
import { splitHostPort } from '../../src/config/host-port.ts';
import { gatewayConfigSchema, loadGatewayConfig } from '../../src/gateway/config.ts';
import { loadServerConfig, serverConfigSchema } from '../../src/server/config.ts';
import { tempDir } from '../helpers/pki.ts';
import { anyString, mutatedJson, mutatedText } from './mutate.ts';
import { coded, fuzz } from './harness.ts';

const CONFIG_CODES = ['IL_ERR_CONFIG_INVALID', 'IL_ERR_CONFIG_UNKNOWN_KEY'] as const;

const GATEWAY_YAML = `
cluster: east
trustDomain: east.acme.internal
identity: { cert: svid.pem, key: svid.key, bundle: bundle.pem }
inbound: { listen: "127.0.0.1:0", tcpListen: "[::1]:7000" }
outbound: { listen: "127.0.0.1:0" }
peers:
  west: { address: "127.0.0.1:9443", tcpAddress: "localhost:9444", trustDomain: west.acme.internal }
services:
  catalog: { upstream: "http://127.0.0.1:8080", classification: internal, critical: ["POST /orders"] }
  db: { upstream: "tcp://127.0.0.1:5432" }
policy: { file: policy.cedar }
admin: { listen: "127.0.0.1:9090" }
audit: { file: audit/east.audit.jsonl, stream: east/gw-1 }
limits: { requestTimeoutMs: 1000, maxBodyBytes: 2048 }
`;
const GATEWAY_ATTESTED = {
  ...(parseYaml(GATEWAY_YAML) as Record<string, unknown>),
  identity: { server: 'https://cp.acme.internal:8443', bundle: 'cp.pem', serverId: 'spiffe://acme.internal/interlock/server', joinTokenFile: 'token' },
  policy: { controlPlane: { refreshMs: 5000 } },
};
const SERVER_CONFIG = {
  listen: '127.0.0.1:8443',
  store: 'sqlite:interlock.db',
  organization: 'Acme',
  domain: 'acme.internal',
  secret: { keyFile: 'ca.key' },
  tls: { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1', '::1'], certTtlMs: 86_400_000 },
  policy: { bundleTtlMs: 60_000 },
  detectors: { svidInTwoClusters: 'alert' },
  metrics: { listen: '[::1]:9100' },
  jobs: { intervalMs: 5000 },
};

/** Every key the schema knows, at any depth: mutations that add keys draw from these, so they get past the unknown-key check. */
function schemaKeys(schema: unknown, seen = new Set<unknown>(), keys = new Set<string>()): string[] {
  if (!schema || typeof schema !== 'object' || seen.has(schema)) return [...keys];
  seen.add(schema);
  const def = (schema as { def?: Record<string, unknown> }).def;
  if (def) {
    const shape = def.shape as Record<string, unknown> | undefined;
    if (shape) for (const [key, child] of Object.entries(shape)) (keys.add(key), schemaKeys(child, seen, keys));
    for (const child of [def.innerType, def.in, def.out, def.valueType, def.keyType, def.element, ...((def.options as unknown[]) ?? [])]) schemaKeys(child, seen, keys);
  }
  return [...keys];
}

// Random YAML is full of unknown tags (`!x`), and the yaml package warns about each on stderr; only those are dropped.
const printers = process.listeners('warning');
process.removeAllListeners('warning');
process.on('warning', (warning) => {
  if (warning.name !== 'YAMLWarning') for (const print of printers) print(warning);
});

const dir = tempDir('interlock-fuzz-config-');
const configPath = join(dir, 'config.yaml');

const gatewayKeys = schemaKeys(gatewayConfigSchema);
const serverKeys = schemaKeys(serverConfigSchema);
const yamlText = (value: unknown) => fc.constantFrom(JSON.stringify(value), toYaml(value));

const gatewayInputs = fc.oneof(
  mutatedText(GATEWAY_YAML),
  mutatedJson(parseYaml(GATEWAY_YAML), gatewayKeys).chain(yamlText),
  mutatedJson(GATEWAY_ATTESTED, gatewayKeys).chain(yamlText),
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
  anyString,
);

fuzz('loadGatewayConfig: any file is a frozen config with absolute paths, or a config error', [gatewayInputs], async (text) => {
  writeFileSync(configPath, text);
  await coded(() => loadGatewayConfig(configPath), CONFIG_CODES, (config) => {
    assert.ok(Object.isFrozen(config) && Object.isFrozen(config.limits), 'frozen');
    assert.ok(isAbsolute(config.audit.file), 'audit.file resolved');
    for (const peer of Object.values(config.peers)) {
      const { host, port } = splitHostPort(peer.address);
      assert.ok(host.length > 0 && Number.isInteger(port) && port >= 0 && port <= 65535, `peer address ${peer.address}`);
    }
  });
}, {
  scale: 3,
  examples: [
    ['a: &a [1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c]\n'],
    ['!!binary AAAA'],
    ['__proto__: { cluster: east }'],
  ],
});

const serverInputs = fc.oneof(
  mutatedJson(SERVER_CONFIG, serverKeys).chain(yamlText),
  mutatedText(toYaml(SERVER_CONFIG)),
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
  anyString,
);

fuzz('loadServerConfig: any file is a frozen config or a config error', [serverInputs], async (text) => {
  writeFileSync(configPath, text);
  await coded(() => loadServerConfig(configPath), CONFIG_CODES, (config) => {
    assert.ok(Object.isFrozen(config) && Object.isFrozen(config.tls), 'frozen');
    const { host, port } = splitHostPort(config.listen);
    assert.ok(host.length > 0 && Number.isInteger(port) && port <= 99_999, `listen ${config.listen}`);
  });
}, { scale: 3 });

fuzz('parseConfig: any JavaScript value (not only YAML) is a config or a config error', [fc.oneof(fc.anything(), mutatedJson(SERVER_CONFIG, serverKeys))], async (value) => {
  await coded(() => parseConfig(value, serverConfigSchema, 'fuzz'), CONFIG_CODES);
}, { scale: 2 });

const hostPort = fc.oneof(
  fc.tuple(fc.domain(), fc.integer({ min: 0, max: 65535 })).map(([h, p]) => ({ text: `${h}:${p}`, host: h, port: p })),
  fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 65535 })).map(([h, p]) => ({ text: `${h}:${p}`, host: h, port: p })),
  fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 65535 })).map(([h, p]) => ({ text: `[${h}]:${p}`, host: h, port: p })),
);

fuzz('splitHostPort: host:port and [v6]:port come apart into the parts they were made of', [hostPort], async ({ text, host, port }) => {
  assert.deepEqual(splitHostPort(text), { host, port });
}, { scale: 3 });

fuzz('splitHostPort: never throws, whatever the string', [anyString], async (text) => {
  const { host, port } = splitHostPort(text);
  assert.equal(typeof host, 'string');
  assert.equal(typeof port, 'number');
}, { scale: 3 });
