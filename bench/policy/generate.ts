/**
 * Realistic generated policy sets for bench/policy/run.ts: mostly
 * per-service permits naming one workload and one service (as a mesh
 * grows one policy per allowed edge), a few forbids, a few catch-alls.
 * Deterministic (a fixed-seed PRNG), so runs compare.
 */
import type { PolicyRequest } from '../../src/policy/pdp.ts';

export interface GeneratedSet {
  readonly text: string;
  /** Distinct requests: mostly permitted edges, some denied calls, varied paths. */
  readonly requests: readonly PolicyRequest[];
}

const CLUSTERS = ['east', 'west', 'north'];
const NAMESPACES = ['shop', 'payments', 'analytics', 'platform', 'sandbox'];
const METHODS = ['GET', 'GET', 'GET', 'POST', 'PUT', 'DELETE'];

/** mulberry32: small, fast, good enough to spread choices. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function generatePolicySet(size: number, seed = 42): GeneratedSet {
  const random = prng(seed + size);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const services = Math.max(3, Math.round(size / 40));
  const workloads = Math.max(4, Math.round(size / 8));
  const service = (i: number) => ({ cluster: CLUSTERS[i % CLUSTERS.length] as string, name: `svc-${i}` });
  const workload = (i: number) => {
    const cluster = CLUSTERS[(i + 1) % CLUSTERS.length] as string;
    const namespace = NAMESPACES[i % NAMESPACES.length] as string;
    return { id: `spiffe://${cluster}.acme.internal/ns/${namespace}/sa/wl-${i}`, trustDomain: `${cluster}.acme.internal`, cluster, namespace, serviceAccount: `wl-${i}` };
  };

  const fixed = [
    '@id("no-admin-paths") forbid (principal, action, resource) when { context.path like "/admin/*" };',
    '@id("sandbox-isolated") forbid (principal, action, resource) when { principal has namespace && principal.namespace == "sandbox" && context.method != "GET" };',
    `@id("health-checks") permit (principal, action == Interlock::Action::"call", resource) when { context.method == "GET" && context.path == "/healthz" };`,
    `@id("platform-reads-all") permit (principal is Interlock::Workload, action, resource) when { principal has namespace && principal.namespace == "platform" && context.method == "GET" };`,
  ].slice(0, Math.min(4, Math.max(1, Math.floor(size / 3))));
  const policies: string[] = [...fixed];
  const edges: Array<[number, number]> = [];
  while (policies.length < size) {
    const w = Math.floor(random() * workloads);
    const s = Math.floor(random() * services);
    const { cluster, name } = service(s);
    const k = policies.length;
    if (k % 97 === 0) {
      // Now and then a service-wide forbid: a method a service never takes.
      policies.push(`@id("p${k}") forbid (principal, action, resource == Interlock::Service::"${cluster}/${name}") when { context.method == "DELETE" };`);
      continue;
    }
    const methods = random() < 0.5 ? '["GET", "HEAD"]' : '["GET", "HEAD", "POST", "PUT"]';
    policies.push(`@id("p${k}") permit (
  principal == Interlock::Workload::"${workload(w).id}",
  action == Interlock::Action::"call",
  resource == Interlock::Service::"${cluster}/${name}"
) when { ${methods}.contains(context.method) };`);
    edges.push([w, s]);
  }

  const requests: PolicyRequest[] = [];
  const count = Math.min(1000, Math.max(50, size));
  for (let i = 0; i < count; i++) {
    // 80 % along permitted edges, the rest random pairs (mostly denied).
    const [w, s] = random() < 0.8 && edges.length > 0 ? pick(edges) : [Math.floor(random() * workloads), Math.floor(random() * services)];
    const principal = workload(w);
    const { cluster, name } = service(s);
    const path = random() < 0.02 ? '/admin/users' : `/items/${Math.floor(random() * 20)}`;
    requests.push({
      principal,
      resource: { cluster, service: name },
      context: { method: pick(METHODS), path, sourceCluster: principal.cluster },
    });
  }
  return { text: policies.join('\n'), requests };
}
