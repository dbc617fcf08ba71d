import { z } from 'zod';
import { loadConfigFile, resolveFrom } from '../config/load.ts';

/**
 * `interlock server --config <file>`. The store is `sqlite:<path>` (the
 * embedded default) or a `postgres://` URL for several replicas; the
 * database password comes from $INTERLOCK_STORE_PASSWORD or $PGPASSWORD,
 * never from the file. The CA secret comes from a passphrase file, a key
 * file or $INTERLOCK_CA_PASSPHRASE.
 */
const hostPort = z.string().regex(/^[a-zA-Z0-9.-]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/, 'must be host:port, e.g. 127.0.0.1:8443');

export const serverConfigSchema = z.strictObject({
  listen: hostPort.default('127.0.0.1:8443'),
  store: z.string().regex(/^(sqlite:.+|postgres(ql)?:\/\/.+)$/, 'must be sqlite:<path> or a postgres:// URL').default('sqlite:interlock.db'),
  organization: z.string().min(1).max(64).default('Interlock'),
  domain: z.string().regex(/^[a-z0-9._-]{1,255}$/, 'must be a lowercase DNS-style domain').default('interlock.internal'),
  secret: z
    .strictObject({ passphraseFile: z.string().min(1).optional(), keyFile: z.string().min(1).optional() })
    .refine((s) => !(s.passphraseFile && s.keyFile), 'give passphraseFile or keyFile, not both')
    .default({}),
  tls: z
    .strictObject({
      /** Names the control plane answers to, for browsers and curl. */
      dnsNames: z.array(z.string().min(1)).default(['localhost']),
      ipAddresses: z.array(z.ipv4().or(z.ipv6())).default(['127.0.0.1']),
      /** The server's own certificate is re-issued at half this lifetime. */
      certTtlMs: z.number().int().min(300_000).max(7 * 86_400_000).default(86_400_000),
    })
    .default({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], certTtlMs: 86_400_000 }),
  policy: z
    .strictObject({
      /** How long a signed bundle stays valid: how long gateways survive without the control plane. */
      bundleTtlMs: z.number().int().min(2_000).max(30 * 86_400_000).default(86_400_000),
    })
    .default({ bundleTtlMs: 86_400_000 }),
  /** What the detectors do on a finding (server/detectors.ts): open a compromise incident, or only raise an alert. */
  detectors: z
    .strictObject({
      svidInTwoClusters: z.enum(['remediate', 'alert']).default('remediate'),
      denyBurst: z.enum(['remediate', 'alert']).default('remediate'),
    })
    .default({ svidInTwoClusters: 'remediate', denyBurst: 'remediate' }),
  /** Optional plain-HTTP listener for Prometheus (GET /metrics); keep it on loopback or a pod-local address. */
  metrics: z.strictObject({ listen: hostPort }).optional(),
  jobs: z.strictObject({ intervalMs: z.number().int().min(1_000).max(3_600_000).default(60_000) }).default({ intervalMs: 60_000 }),
});

export type ServerConfig = z.infer<typeof serverConfigSchema>;

export function loadServerConfig(path: string): ServerConfig {
  return loadConfigFile(
    path,
    serverConfigSchema.transform((config) => ({
      ...config,
      store: config.store.startsWith('sqlite:') && config.store !== 'sqlite::memory:' ? `sqlite:${resolveFrom(path, config.store.slice('sqlite:'.length))}` : config.store,
      secret: {
        ...(config.secret.passphraseFile ? { passphraseFile: resolveFrom(path, config.secret.passphraseFile) } : {}),
        ...(config.secret.keyFile ? { keyFile: resolveFrom(path, config.secret.keyFile) } : {}),
      },
    })),
  );
}

/** Puts the password from the environment into a PostgreSQL URL, so it never sits in a file. */
export function storeSpecWithPassword(spec: string, env: NodeJS.ProcessEnv): string {
  if (!spec.startsWith('postgres')) return spec;
  const password = env.INTERLOCK_STORE_PASSWORD ?? env.PGPASSWORD;
  if (!password) return spec;
  const url = new URL(spec);
  if (!url.password) url.password = password;
  return url.toString();
}
