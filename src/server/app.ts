import Fastify, { LogController, type FastifyError, type FastifyInstance } from 'fastify';
import { InterlockError, toInterlockError } from '../errors.ts';
import type { Clock } from '../clock.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Store } from '../store/types.ts';
import { actorOf, installAuth } from './auth.ts';
import type { CaService } from './ca-service.ts';
import type { IdentityService } from './identity-service.ts';
import type { EventTail } from './event-tail.ts';
import type { PolicyService } from './policy-service.ts';
import { registerPublicRoutes } from './routes/public.ts';
import { registerWorkloadRoutes } from './routes/workload.ts';
import { registerRegistryRoutes } from './routes/registry.ts';
import { registerGovernanceRoutes } from './routes/governance.ts';
import { registerPolicyBundleRoutes } from './routes/policy-bundles.ts';
import { registerRevocationRoutes } from './routes/revocations.ts';
import { registerTrustRoutes } from './routes/trust.ts';
import { registerIncidentRoutes } from './routes/incidents.ts';
import { registerAuditStreamRoutes } from './routes/audit-streams.ts';
import { registerDeclarativeRoutes } from './routes/declarative.ts';
import { registerDashboardRoutes } from './routes/dashboard.ts';
import type { IncidentService } from './incidents.ts';
import type { DetectorService } from './detectors.ts';
import type { ControlPlaneMetrics } from '../telemetry/control-plane-metrics.ts';
import type { AuditService } from './audit-service.ts';
import type { CaRotation } from './ca-rotation.ts';

export interface ServerDeps {
  readonly store: Store;
  readonly ca: CaService;
  readonly identities: IdentityService;
  readonly events: EventTail;
  readonly policies: PolicyService;
  readonly rotations: CaRotation;
  readonly incidents: IncidentService;
  readonly detectors: DetectorService;
  readonly metrics: ControlPlaneMetrics;
  readonly audit: AuditService;
  readonly clock: Clock;
  readonly log: Logger;
}

export interface TlsMaterial {
  readonly certPem: string;
  readonly keyPem: string;
  readonly bundlePem: string;
}

/** Fastify's schema errors name the field in instancePath or params; make that our `field`. */
function validationError(error: FastifyError): InterlockError {
  const first = error.validation?.[0];
  const params = (first?.params ?? {}) as { missingProperty?: string; additionalProperty?: string };
  const path = (first?.instancePath ?? '').replace(/^\//, '').replace(/\//g, '.');
  const leaf = params.missingProperty ?? params.additionalProperty;
  const field = [error.validationContext, path, leaf].filter(Boolean).join('.');
  const message = params.additionalProperty ? `unknown property ${params.additionalProperty}` : (first?.message ?? error.message);
  return new InterlockError('IL_ERR_REQUEST_INVALID', `${field || 'request'}: ${message}`, { field: field || 'body' });
}

/**
 * The control plane API: HTTPS with TLS 1.3 only. The handshake asks for a
 * client certificate but does not require one, because attestation and the
 * bundle are reached before a workload has any; routes that need an SVID
 * say so and the auth hook enforces it.
 */
export function buildApp(deps: ServerDeps, tls: TlsMaterial): FastifyInstance {
  const app = Fastify({
    https: {
      cert: tls.certPem,
      key: tls.keyPem,
      ca: tls.bundlePem,
      minVersion: 'TLSv1.3',
      maxVersion: 'TLSv1.3',
      requestCert: true,
      rejectUnauthorized: false,
    },
    loggerInstance: deps.log,
    // Requests are recorded in the audit chain; per-request info lines would only duplicate them.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 256 * 1024,
    // Watch streams are long-lived; closing the server must not wait for them.
    forceCloseConnections: true,
    ajv: { customOptions: { removeAdditional: false, allErrors: false } },
  }) as unknown as FastifyInstance; // one instance type for routes, whichever server and logger it runs on

  installAuth(app, deps.store);

  app.setErrorHandler((error: FastifyError, request, reply) => {
    // Fastify's own client errors (bad or empty JSON, a content type it does not parse) are bad requests, not failures of ours.
    if (error.statusCode && error.statusCode < 500 && error.statusCode !== 404 && !(error instanceof InterlockError) && !error.validation) {
      const bad = new InterlockError('IL_ERR_REQUEST_INVALID', error.message, { field: 'body' });
      void reply.code(400).header('interlock-error-code', bad.code).send({ error: bad.toJSON() });
      return;
    }
    const failure = error.validation ? validationError(error) : error.statusCode === 404 ? new InterlockError('IL_ERR_NOT_FOUND', error.message) : toInterlockError(error);
    if (failure.code === 'IL_ERR_INTERNAL') request.log.error({ err: error.message, url: request.url }, 'request failed');
    void reply.code(failure.status).header('interlock-error-code', failure.code).send({ error: failure.toJSON() });
  });
  app.setNotFoundHandler((request, reply) => {
    const failure = new InterlockError('IL_ERR_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`, { field: 'url' });
    void reply.code(404).header('interlock-error-code', failure.code).send({ error: failure.toJSON() });
  });

  // A change committed on this replica (a revocation, a rotation step, an incident) reaches the
  // watch streams it serves at once, not at the next 200 ms poll of the event table.
  app.addHook('onSend', async (request, reply, payload) => {
    if (request.method !== 'GET' && request.method !== 'HEAD' && reply.statusCode < 400) void deps.events.poll();
    return payload;
  });

  app.addHook('onResponse', async (request, reply) => {
    const code = reply.getHeader('interlock-error-code');
    deps.metrics.request(request.routeOptions.url ?? 'unmatched', request.method, reply.statusCode, reply.elapsedTime / 1000, typeof code === 'string' ? code : undefined);
  });

  // Every admin call that changes state is audited with its actor and outcome,
  // including refused ones: who tried what is part of the record.
  app.addHook('onResponse', async (request, reply) => {
    // An admin token that was refused (unknown, disabled) is recorded whatever the method: guessing leaves a trace.
    if (reply.statusCode === 401 && request.headers.authorization && !request.caller?.admin) {
      await deps.store.appendAudit(
        { type: 'admin.auth-failed', actor: actorOf(request), data: { method: request.method, route: request.routeOptions.url ?? request.url.split('?')[0], status: reply.statusCode } },
        deps.clock.now().toISOString(),
      );
      return;
    }
    if (request.method === 'GET' || request.method === 'HEAD') return;
    const auth = request.routeOptions.config?.auth;
    if (!auth || auth.kind !== 'roles') return;
    await deps.store.appendAudit(
      { type: 'admin.request', actor: actorOf(request), data: { method: request.method, route: request.routeOptions.url ?? request.url, status: reply.statusCode, roles: [...(request.caller?.admin?.roles ?? [])] } },
      deps.clock.now().toISOString(),
    );
  });

  registerPublicRoutes(app, deps);
  registerWorkloadRoutes(app, deps);
  registerRegistryRoutes(app, deps);
  registerGovernanceRoutes(app, deps);
  registerPolicyBundleRoutes(app, deps);
  registerRevocationRoutes(app, deps);
  registerTrustRoutes(app, deps);
  registerIncidentRoutes(app, deps);
  registerAuditStreamRoutes(app, deps);
  registerDeclarativeRoutes(app, deps);
  registerDashboardRoutes(app, deps);
  return app;
}
