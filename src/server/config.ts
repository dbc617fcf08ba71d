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

const MINUTE = 60_000;
const DAY = 86_400_000;
const duration = (min: number, max: number, fallback: number) => z.number().int().min(min).max(max).default(fallback);

/**
 * A count per sliding window compared with max(threshold, factor × baseline),
 * the baseline an exponentially weighted mean of the window's count that is
 * learned while the rule is quiet (server/alert-rules.ts).
 */
function rateRule(defaults: { windowMs: number; threshold: number; factor: number }) {
  return z
    .strictObject({
      enabled: z.boolean().default(true),
      windowMs: duration(1_000, DAY, defaults.windowMs),
      threshold: z.number().int().min(1).max(10_000_000).default(defaults.threshold),
      factor: z.number().min(1).max(1_000).default(defaults.factor),
      /** Weight of each new evaluation in the baseline (EWMA smoothing factor). */
      alpha: z.number().gt(0).max(1).default(0.05),
      /** How long a new series only learns its baseline before it may fire. */
      warmupMs: duration(0, 30 * DAY, 3_600_000),
    })
    .prefault({});
}

function alertsSchema() {
  return z
    .strictObject({
      intervalMs: duration(100, 3_600_000, MINUTE),
      /** An alert resolves once its condition has been absent this long. */
      resolveDelayMs: duration(0, DAY, 5 * MINUTE),
      /** Resolved alerts kept for GET /v1/alerts. */
      historyLimit: z.number().int().min(0).max(10_000).default(200),
      unauthorizedAttempts: rateRule({ windowMs: 5 * MINUTE, threshold: 20, factor: 3 }),
      handshakeFailures: rateRule({ windowMs: 5 * MINUTE, threshold: 20, factor: 3 }),
      rotationBurst: rateRule({ windowMs: 10 * MINUTE, threshold: 100, factor: 5 }),
      certificateExpiring: z
        .strictObject({
          enabled: z.boolean().default(true),
          /** A CA certificate expiring within this window. */
          caWindowMs: duration(MINUTE, 365 * DAY, 30 * DAY),
          /** A gateway SVID with this fraction of its life or less left: renewal is failing. */
          svidLifeFraction: z.number().gt(0).lt(1).default(0.33),
        })
        .prefault({}),
      bundleExpiring: z
        .strictObject({
          enabled: z.boolean().default(true),
          /** A gateway's policy bundle with this fraction of policy.bundleTtlMs or less left. */
          lifeFraction: z.number().gt(0).lt(1).default(0.25),
          /** A gateway that has not confirmed the trust document this long. */
          trustMaxAgeMs: duration(10_000, DAY, 10 * MINUTE),
        })
        .prefault({}),
      stalePolicy: z
        .strictObject({
          enabled: z.boolean().default(true),
          /** How long a gateway may stay behind the active policy version or the latest revocation. */
          graceMs: duration(0, DAY, 5 * MINUTE),
        })
        .prefault({}),
      auditVerification: z.strictObject({ enabled: z.boolean().default(true) }).prefault({}),
      /** Detector findings (server/detectors.ts) stay firing this long after the last one of the same key. */
      detectorWindowMs: duration(1_000, DAY, 15 * MINUTE),
      /** Alertmanager-style JSON POST on every fire and resolve. Its URL and headers may hold secrets: neither is logged. */
      webhook: z
        .strictObject({
          url: z.url({ protocol: /^https?$/ }),
          timeoutMs: duration(100, 60_000, 5_000),
          headers: z.record(z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'must be an HTTP header name'), z.string().max(4_096)).optional(),
          /** Attempts after the first, each after twice the previous backoff. */
          retries: z.number().int().min(0).max(10).default(3),
          backoffMs: duration(10, 60_000, 1_000),
        })
        .optional(),
    })
    .prefault({});
}

export type AlertsConfig = z.infer<ReturnType<typeof alertsSchema>>;

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
  /** Alert rules the control plane evaluates, and where it sends their changes (server/alerting.ts, docs/observability.md#alerts). */
  alerts: alertsSchema(),
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
