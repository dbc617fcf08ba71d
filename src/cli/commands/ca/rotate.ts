import type { Command } from 'commander';
import { InterlockError } from '../../../errors.ts';
import { apiRequest, type ApiConnection } from '../../../client/api.ts';
import { EXIT_FAILED, action } from '../../run.ts';
import { connectionFrom, withApi, type ApiOptions } from '../../api-options.ts';

/**
 * `interlock ca rotate --cluster <c>` and `interlock ca rotate-root`: drive
 * a staged rotation (server/ca-rotation.ts) step by step, checking each step
 * before the next. The state is on the control plane, so running the same
 * command again resumes; --revert walks one step back.
 */
type Step = 'published' | 'switched' | 'withdrawn' | 'aborted';

interface Pair {
  cluster: string | null;
  previous: string;
  next: string;
}

interface Readiness {
  record: { id: string; target: string; step: Step; pairs: Pair[]; history: Array<{ step: string; at: string; actor: string }> } | null;
  nextStep: 'switch' | 'withdraw' | null;
  ready: boolean;
  waitingFor: string | null;
  gateways: Array<{ gateway: string; cluster: string; confirmed: boolean; reportedAt: string | null }>;
  remaining: { count: number; latestNotAfter: string | null };
}

interface RotateOptions extends ApiOptions {
  until: Step;
  revert?: boolean;
  status?: boolean;
  wait: string;
  poll: string;
}

const ORDER: readonly Step[] = ['published', 'switched', 'withdrawn'];
const STEP_TEXT: Record<Step, string> = {
  published: 'new CA published: trusted by every gateway, not signing yet',
  switched: 'issuance switched: the new CA signs; the old one stays trusted while its SVIDs age out',
  withdrawn: 'old CA withdrawn: gateways refuse anything it signed; rotation complete',
  aborted: 'rotation aborted: the new CA is withdrawn, the old one signs as before',
};

function describePairs(pairs: readonly Pair[]): string {
  return pairs.map((p) => `  ${p.cluster ? `cluster ${p.cluster}` : 'root'}: ${p.previous} → ${p.next}`).join('\n');
}

function renderStatus(state: Readiness, label: string): string {
  if (!state.record) return `no rotation of ${label} has been started`;
  const lines = [`rotation ${state.record.id} of ${label}: at step ${state.record.step}`, describePairs(state.record.pairs)];
  for (const h of state.record.history) lines.push(`  ${h.at}  ${h.step.padEnd(9)} by ${h.actor}`);
  if (state.nextStep) {
    lines.push(`next: ${state.nextStep} — ${state.ready ? 'ready' : `waiting: ${state.waitingFor}`}`);
    for (const g of state.gateways) lines.push(`  ${g.confirmed ? '✔' : '✘'} ${g.gateway} (${g.cluster}) ${g.reportedAt ? `reported ${g.reportedAt}` : 'never reported'}`);
  }
  return lines.join('\n');
}

async function drive(connection: ApiConnection, target: string, label: string, options: RotateOptions): Promise<number> {
  const path = `/v1/ca/rotations/${encodeURIComponent(target)}`;
  const read = async () => (await apiRequest<Readiness>(connection, 'GET', path)).body;
  const say = (text: string) => !options.json && process.stdout.write(text + '\n');
  let state = await read();
  const running = state.record && (state.record.step === 'published' || state.record.step === 'switched');

  if (options.status) {
    process.stdout.write(options.json ? JSON.stringify(state, null, 2) + '\n' : renderStatus(state, label) + '\n');
    return 0;
  }
  if (options.revert) {
    if (!running) throw new InterlockError('IL_ERR_ROTATION_STATE', `no rotation of ${label} is in progress`, { field: '--revert' });
    const { body } = await apiRequest<Readiness['record']>(connection, 'POST', `${path}/revert`, { expect: state.record!.step });
    say(`✔ reverted to ${body!.step}: ${body!.step === 'published' ? 'the old CA signs again; the new one stays trusted until reverted again or switched' : STEP_TEXT.aborted}`);
    if (options.json) process.stdout.write(JSON.stringify(body, null, 2) + '\n');
    return 0;
  }
  if (!running) {
    const { body } = await apiRequest<NonNullable<Readiness['record']>>(connection, 'POST', path, {});
    say(`✔ ${STEP_TEXT.published}\n${describePairs(body.pairs)}`);
    state = await read();
  } else {
    say(`resuming rotation ${state.record!.id} of ${label} at step ${state.record!.step}`);
  }

  const deadline = Date.now() + Number(options.wait) * 1000;
  let lastWaiting = '';
  while (state.record && ORDER.indexOf(state.record.step) < ORDER.indexOf(options.until)) {
    if (state.ready) {
      const { body } = await apiRequest<NonNullable<Readiness['record']>>(connection, 'POST', `${path}/advance`, { expect: state.record.step });
      say(`✔ ${STEP_TEXT[body.step]}`);
    } else {
      if (state.waitingFor !== lastWaiting) say(`… ${state.nextStep}: waiting — ${state.waitingFor}`);
      lastWaiting = state.waitingFor ?? '';
      if (Date.now() > deadline) {
        process.stderr.write(
          `interlock: error IL_ERR_ROTATION_NOT_READY: stopped waiting after ${options.wait} s before ${state.nextStep}: ${state.waitingFor} (hint: run the same command again to resume)\n`,
        );
        return EXIT_FAILED;
      }
      await new Promise((resolve) => setTimeout(resolve, Number(options.poll)));
    }
    state = await read();
  }
  if (options.json) process.stdout.write(JSON.stringify(state, null, 2) + '\n');
  else if (state.record?.step === 'withdrawn' && target === 'root') say('note: clients that verify the control plane with a saved bundle need the new one: interlock server bundle, or GET /v1/bundle.pem');
  return 0;
}

function withRotationOptions(command: Command): Command {
  return withApi(command)
    .option('--until <step>', 'stop after this step: published | switched | withdrawn', 'withdrawn')
    .option('--revert', 'walk the rotation in progress one step back (until the old CA is withdrawn)')
    .option('--status', 'show where the rotation stands and what the next step waits for')
    .option('--wait <seconds>', 'how long to wait for a step check (gateways confirming, old SVIDs expiring) before stopping; run again to resume', '300')
    .option('--poll <ms>', 'how often to re-check while waiting', '1000');
}

function checkOptions(options: RotateOptions): void {
  if (!ORDER.includes(options.until)) throw new InterlockError('IL_ERR_USAGE', `--until must be one of ${ORDER.join(', ')}`, { field: '--until' });
  for (const flag of ['wait', 'poll'] as const) {
    if (!/^\d+$/.test(options[flag])) throw new InterlockError('IL_ERR_USAGE', `--${flag} must be a whole number`, { field: `--${flag}` });
  }
}

export function registerCaRotate(ca: Command): void {
  withRotationOptions(ca.command('rotate'))
    .description("staged rotation of a cluster's intermediate CA (role key-custodian): publish, wait for every gateway, switch issuance, wait for old SVIDs to expire, withdraw")
    .requiredOption('--cluster <name>', 'the cluster whose intermediate CA to rotate')
    .action(
      action(async (options: RotateOptions & { cluster: string }) => {
        checkOptions(options);
        return drive(connectionFrom(options), options.cluster, `cluster ${options.cluster}`, options);
      }),
    );
  withRotationOptions(ca.command('rotate-root'))
    .description('staged rotation of the root CA and, under it, every cluster intermediate (role key-custodian)')
    .action(
      action(async (options: RotateOptions) => {
        checkOptions(options);
        return drive(connectionFrom(options), 'root', 'the root CA', options);
      }),
    );
}
