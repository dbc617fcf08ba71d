import type { ChaosExperiment } from '../types.ts';
import { caRotation } from './ca-rotation.ts';
import { clockSkew } from './clock-skew.ts';
import { compromise } from './compromise.ts';
import { controlPlaneKilled } from './control-plane-killed.ts';
import { linkCut } from './link-cut.ts';
import { lossLatency } from './loss-latency.ts';
import { mitm } from './mitm.ts';
import { replay } from './replay.ts';
import { revokedReuse } from './revoked-reuse.ts';
import { storeRestart } from './store-restart.ts';
import { svidExpiry } from './svid-expiry.ts';
import { tamper } from './tamper.ts';

/**
 * Every experiment, in run order: those that leave the lab as they found it
 * first (they share one lab), then those that change it (each gets a fresh
 * one after), then the one that needs a PostgreSQL store.
 */
export const EXPERIMENTS: readonly ChaosExperiment[] = [linkCut, lossLatency, controlPlaneKilled, revokedReuse, replay, tamper, mitm, clockSkew, caRotation, svidExpiry, compromise, storeRestart];
