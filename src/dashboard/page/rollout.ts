import { h } from 'preact';
import type { PolicyRolloutView } from '../snapshot.ts';
import { Empty, clock } from './ui.ts';

const STAGE_TEXT = { none: 'active version only', 'dry-run': 'dry-run (candidate evaluated, not enforced)', canary: 'canary (candidate enforced)' } as const;

/** Which policy version each gateway enforces, what it does with a candidate, and where the candidate would decide differently. */
export function Rollout(props: { policy: PolicyRolloutView }) {
  const { policy } = props;
  const r = policy.rollout;
  const summary = r
    ? `Version ${r.version} staged as ${r.stage}${r.clusters.length ? ` on ${r.clusters.join(', ')}` : ''}${r.percent ? ` (${r.percent}% of gateways)` : ''} by ${r.by} at ${clock(r.at)}.`
    : 'No candidate in rollout.';
  return h(
    'div',
    null,
    h('p', null, h('strong', null, policy.active === null ? 'No active policy: every gateway denies.' : `Active policy: version ${policy.active}. `), summary),
    policy.gateways.length === 0
      ? h(Empty, null, 'No gateways.')
      : h(
          'table',
          { 'aria-label': 'Policy rollout per gateway' },
          h('thead', null, h('tr', null, ['Cluster', 'Enforcing', 'Candidate', 'Stage', 'Bundle', 'Evaluated', 'Disagreements', 'allow → deny', 'deny → allow', 'Reported'].map((c) => h('th', { key: c, scope: 'col' }, c)))),
          h(
            'tbody',
            null,
            policy.gateways.map((g) =>
              h(
                'tr',
                { key: g.cluster, class: g.disagreements > 0 || g.state !== 'fresh' || g.reportStale ? 'attention' : undefined },
                h('th', { scope: 'row' }, g.cluster),
                h('td', null, g.enforcedVersion === null ? '—' : `v${g.enforcedVersion}`),
                h('td', null, g.candidateVersion === null ? '—' : `v${g.candidateVersion}`),
                h('td', null, STAGE_TEXT[g.stage]),
                h('td', null, g.state),
                h('td', { class: 'num' }, String(g.evaluated)),
                h('td', { class: 'num' }, String(g.disagreements)),
                h('td', { class: 'num' }, String(g.allowToDeny)),
                h('td', { class: 'num' }, String(g.denyToAllow)),
                h('td', null, clock(g.reportedAt), g.reportStale ? h('span', { class: 'badge health-warn' }, 'late') : null),
              ),
            ),
          ),
        ),
  );
}
