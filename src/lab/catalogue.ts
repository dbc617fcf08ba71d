import type { LabControlPlane } from './control-plane.ts';
import type { ClusterPlan } from './world.ts';

/**
 * Declares the lab's exported services in the control plane's catalogue
 * (what `interlock apply` does with Service documents), so the reports and
 * the dashboard know their classification without being told. Only Service
 * objects are in this desired state and nothing is pruned: the lab's
 * clusters, entries and policy stay as the lab made them.
 */
export async function declareLabServices(cp: LabControlPlane, topology: readonly ClusterPlan[]): Promise<void> {
  const desired = {
    clusters: [],
    entries: [],
    services: topology.map((plan) => ({
      name: plan.service.name,
      cluster: plan.name,
      namespace: plan.service.namespace,
      classification: plan.service.classification ?? 'internal',
      critical: plan.service.critical ?? false,
    })),
    policies: [],
    admins: [],
  };
  const plan = await cp.call<{ base: unknown }>('POST', '/v1/config/plan', { desired });
  await cp.call('POST', '/v1/config/apply', { desired, base: plan.base });
}
