import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import type { Server as HttpsServer } from 'node:https';
import { systemClock, type Clock } from '../clock.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { KeySecret } from '../pki/key-protection.ts';
import { openStore } from '../store/open.ts';
import type { AdminRole, Store } from '../store/types.ts';
import { writeFileAtomic } from '../util/files.ts';
import { buildApp } from './app.ts';
import { splitHostPort } from '../config/host-port.ts';
import { CaService } from './ca-service.ts';
import { EventTail } from './event-tail.ts';
import { IdentityService } from './identity-service.ts';
import { PolicyService } from './policy-service.ts';
import { CaRotation } from './ca-rotation.ts';
import { IncidentService } from './incidents.ts';
import { DetectorService } from './detectors.ts';
import { AlertingService, brokenAuditChains, firingByRule } from './alerting.ts';
import { AuditService, auditCheckpointJob } from './audit-service.ts';
import { ControlPlaneMetrics, startMetricsServer } from '../telemetry/control-plane-metrics.ts';
import { ControlPlaneSigner } from './signer.ts';
import { AUDIT_SIGNER_PATH } from '../audit/checkpoint.ts';
import { JobRunner, caExpiryJob } from './jobs.ts';
import type { ServerConfig } from './config.ts';
import { hashSecret, newSecret } from './secrets.ts';

export interface RunningServer {
  readonly url: string;
  readonly spiffeId: string;
  readonly store: Store;
  readonly app: FastifyInstance;
  readonly jobs: JobRunner;
  readonly alerting: AlertingService;
  close(): Promise<void>;
}

export interface StartOptions {
  readonly log: Logger;
  readonly secret: KeySecret;
  readonly storeSpec: string;
  readonly clock?: Clock;
  /** On an empty store, create admin `admin` (operator, key-custodian, auditor) and write its token here, mode 0600. */
  readonly bootstrapAdminTokenFile?: string;
}

export const BOOTSTRAP_ADMIN = 'admin';
const BOOTSTRAP_ROLES: AdminRole[] = ['operator', 'key-custodian', 'auditor'];

async function bootstrapAdmin(store: Store, clock: Clock, tokenFile: string): Promise<boolean> {
  // Serialised across replicas, like root creation: only one may create the first admin.
  const outcome = await store.runExclusive('bootstrap-admin', async () => {
    if ((await store.listAdmins()).length > 0) return false;
    const token = newSecret('iladm');
    const at = clock.now().toISOString();
    await store.transaction(async (tx) => {
      await tx.insertAdmin({ name: BOOTSTRAP_ADMIN, roles: BOOTSTRAP_ROLES, tokenHash: hashSecret(token), disabled: false, createdAt: at, createdBy: 'bootstrap' });
      await tx.appendAudit({ type: 'admin.created', actor: 'bootstrap', data: { name: BOOTSTRAP_ADMIN, roles: BOOTSTRAP_ROLES } }, at);
    });
    writeFileAtomic(tokenFile, token + '\n', 0o600);
    return true;
  });
  return outcome.ran && outcome.result;
}

/**
 * The control plane: stateless over its store, so any number of replicas
 * can share one PostgreSQL database. Each replica has its own short-lived
 * TLS certificate from the shared root, re-issued at half its life.
 */
export async function startControlPlane(config: ServerConfig, options: StartOptions): Promise<RunningServer> {
  const clock = options.clock ?? systemClock;
  const replica = `${hostname()}:${process.pid}`;
  const store = await openStore(options.storeSpec, { clock });
  try {
    const ca = new CaService(store, options.secret, clock);
    await ca.initialize({ organization: config.organization, domain: config.domain }, `server:${replica}`);
    if (options.bootstrapAdminTokenFile && (await bootstrapAdmin(store, clock, options.bootstrapAdminTokenFile))) {
      options.log.info({ event: 'server.bootstrap-admin', tokenFile: options.bootstrapAdminTokenFile }, 'bootstrap admin created');
    }
    const identities = new IdentityService(store, ca, options.secret, clock);
    const events = new EventTail(store);
    await events.start();
    const tlsOptions = { dnsNames: config.tls.dnsNames, ipAddresses: config.tls.ipAddresses, ttlMs: config.tls.certTtlMs };
    const tls = await ca.serverIdentity(tlsOptions);
    const policies = new PolicyService(store, ca, options.secret, clock, config.policy.bundleTtlMs);
    let app: FastifyInstance | undefined;
    // A new certificate (from the oldest root still trusted) and the current
    // roots to verify clients with; new handshakes get both, established
    // connections are untouched.
    const refreshTls = async () => {
      try {
        const next = await ca.serverIdentity(tlsOptions);
        (app?.server as HttpsServer | undefined)?.setSecureContext({ cert: next.certPem, key: next.keyPem, ca: next.bundlePem, minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' });
      } catch (error) {
        options.log.error({ err: (error as Error).message }, 'server certificate renewal failed; retrying next interval');
      }
    };
    const auditSigner = new ControlPlaneSigner(store, ca, options.secret, clock, { setting: 'audit-signer', path: AUDIT_SIGNER_PATH, auditPrefix: 'audit.signer' });
    const rotations = new CaRotation(store, ca, clock, {
      onRootSigning: async () => {
        await policies.rotateSigner();
        await auditSigner.rotate();
      },
      onTrustChanged: refreshTls,
    });
    const incidents = new IncidentService(store, rotations, auditSigner, clock);
    const metrics = new ControlPlaneMetrics({
      authorities: () => store.listAuthorities(),
      openIncidents: async () => (await incidents.list()).filter((i) => i.status === 'open').length,
      firingAlerts: () => firingByRule(store),
      brokenAuditChains: () => brokenAuditChains(store),
    });
    events.subscribe((event) => metrics.event(event.type));
    const detectors = new DetectorService(store, incidents, config.detectors, clock, options.log, (detector) => metrics.alert(detector));
    const audit = new AuditService(store, auditSigner, clock);
    const alerting = new AlertingService({ store, audit, policies, rotations, incidents, detectors, clock, log: options.log, metrics }, config.alerts, config.policy.bundleTtlMs);
    app = buildApp({ store, ca, identities, events, policies, rotations, incidents, detectors, metrics, audit, clock, log: options.log }, tls);
    // Another replica changed what is trusted (a CA rotation step): follow it.
    events.subscribe((event) => {
      if (event.type !== 'trust.changed') return;
      policies.forgetSigner();
      auditSigner.forget();
      void refreshTls();
    });
    const { host, port } = splitHostPort(config.listen);
    await app.listen({ host, port });
    const address = app.server.address();
    const url = `https://${host.includes(':') ? `[${host}]` : host}:${typeof address === 'object' && address ? address.port : port}`;

    // Re-issue our own certificate at half its life.
    const renew = setInterval(() => void refreshTls(), config.tls.certTtlMs / 2);
    renew.unref();

    const metricsServer = config.metrics ? await startMetricsServer(metrics, splitHostPort(config.metrics.listen)) : undefined;
    const jobs = new JobRunner(store, [caExpiryJob(store, clock), auditCheckpointJob(audit)], options.log, replica);
    jobs.start(config.jobs.intervalMs);
    alerting.start(url);
    options.log.info({ event: 'server.ready', url, spiffeId: tls.spiffeId, store: store.kind, replica, metrics: metricsServer?.address ?? null }, 'control plane ready');
    return {
      url,
      spiffeId: tls.spiffeId,
      store,
      app,
      jobs,
      alerting,
      close: async () => {
        clearInterval(renew);
        jobs.stop();
        await alerting.close();
        await events.stop();
        await metricsServer?.close();
        await app.close();
        await store.close();
      },
    };
  } catch (error) {
    await store.close();
    throw error;
  }
}
