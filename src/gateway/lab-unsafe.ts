import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { InterlockError } from '../errors.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { PolicyState } from './policy-state.ts';

/**
 * The deliberately broken build the chaos tests use to prove an experiment
 * can fail: a gateway that allows every request its policy denies. Honoured
 * only behind a hidden CLI flag AND for a config inside an Interlock lab
 * folder (one holding the lab's `lab.json` marker), and it says so loudly.
 * A real deployment has no lab folder, so the flag is refused there.
 */
const LAB_MARKER = 'lab.json';

export function assertLabConfig(configPath: string): void {
  for (let dir = dirname(resolve(configPath)); ; dir = dirname(dir)) {
    if (existsSync(join(dir, LAB_MARKER))) return;
    if (dirname(dir) === dir) break;
  }
  throw new InterlockError('IL_ERR_CONFIG_INVALID', `--lab-unsafe-skip-policy is only for gateways of an Interlock lab; ${configPath} is not in a lab folder`, { field: '--lab-unsafe-skip-policy' });
}

export function skipPolicyChecks(policy: PolicyState, log: Logger): void {
  log.warn({ event: 'gateway.lab-unsafe-skip-policy' }, 'LAB BROKEN BUILD: this gateway skips the policy check and allows every request; never run it outside a chaos test');
  const decide = policy.decide.bind(policy);
  policy.decide = (request) => ({ allowed: true, policyIds: [], reason: 'policy check skipped (lab broken build)', version: decide(request).version });
}
