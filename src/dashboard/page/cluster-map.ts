import { h } from 'preact';
import type { ClusterView, DashboardSnapshot, LinkView, Reason } from '../snapshot.ts';
import { humanSeconds } from '../format.ts';
import { Empty, HEALTH_LABEL, HealthBadge, clock, percent, rate } from './ui.ts';

const WIDTH = 720;
const NODE_RADIUS = 34;
/** Two clusters sit side by side and need little height; more go round an ellipse. */
const heightFor = (n: number) => (n <= 2 ? 170 : 320);

/** Clusters on an ellipse (two of them side by side), so every link is a straight, separate line. */
function positions(clusters: readonly ClusterView[]): Map<string, { x: number; y: number }> {
  const n = clusters.length;
  const height = heightFor(n);
  return new Map(
    clusters.map((c, i) => {
      if (n === 1) return [c.name, { x: WIDTH / 2, y: height / 2 }];
      const angle = Math.PI + (2 * Math.PI * i) / n;
      return [c.name, { x: WIDTH / 2 + (WIDTH / 2 - 110) * Math.cos(angle), y: height / 2 + (n === 2 ? 0 : (height / 2 - 60) * Math.sin(angle)) }];
    }),
  );
}

const linkName = (l: LinkView) => `${l.a} ↔ ${l.b}`;
const reasonText = (reasons: readonly Reason[]) => (reasons.length ? reasons.map((r) => `• ${r.text}`).join('\n') : 'all checks pass');

function linkSummary(l: LinkView): string {
  const parts = [`${rate(l.requestsPerSecond)} req/s`];
  if (l.errorRate !== null) parts.push(`${percent(l.errorRate)} errors`);
  if (l.minCertSecondsLeft !== null) parts.push(`shortest certificate ${humanSeconds(l.minCertSecondsLeft)} left`);
  return parts.join(' · ');
}

function MapSvg(props: { clusters: readonly ClusterView[]; links: readonly LinkView[] }) {
  const at = positions(props.clusters);
  const description = [
    `${props.clusters.length} clusters: ${props.clusters.map((c) => `${c.name} (${HEALTH_LABEL[c.health]})`).join(', ')}.`,
    `${props.links.length} links: ${props.links.map((l) => `${linkName(l)} (${HEALTH_LABEL[l.health]})`).join(', ')}.`,
  ].join(' ');
  return h(
    'svg',
    { class: 'map', viewBox: `0 0 ${WIDTH} ${heightFor(props.clusters.length)}`, role: 'img', 'aria-labelledby': 'cluster-map-title', 'aria-describedby': 'cluster-map-desc' },
    h('title', { id: 'cluster-map-title' }, 'Cluster map'),
    h('desc', { id: 'cluster-map-desc' }, description),
    props.links.map((l) => {
      const a = at.get(l.a)!;
      const b = at.get(l.b)!;
      const mid = { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 };
      return h(
        'g',
        { key: l.id, class: `link health-${l.health}` },
        h('title', null, `${linkName(l)}: ${HEALTH_LABEL[l.health]}\n${reasonText(l.reasons)}`),
        h('line', { x1: a.x, y1: a.y, x2: b.x, y2: b.y }),
        h('text', { x: mid.x, y: mid.y - 12, class: 'link-label' }, `${HEALTH_LABEL[l.health]}`),
        h('text', { x: mid.x, y: mid.y + 22, class: 'link-detail' }, linkSummary(l)),
      );
    }),
    props.clusters.map((c) => {
      const p = at.get(c.name)!;
      return h(
        'g',
        { key: c.name, class: `node health-${c.health}` },
        h('title', null, `${c.name} (${c.trustDomain}): ${HEALTH_LABEL[c.health]}\n${reasonText(c.reasons)}`),
        h('circle', { cx: p.x, cy: p.y, r: NODE_RADIUS }),
        h('text', { x: p.x, y: p.y + 5, class: 'node-name' }, c.name),
        h('text', { x: p.x, y: p.y + NODE_RADIUS + 18, class: 'node-domain' }, c.trustDomain),
      );
    }),
  );
}

function Reasons(props: { reasons: readonly Reason[] }) {
  if (props.reasons.length === 0) return h('span', { class: 'muted' }, 'all checks pass');
  return h(
    'ul',
    { class: 'reasons' },
    props.reasons.map((r) => h('li', { key: r.text, class: `reason health-${r.health}` }, r.text)),
  );
}

export function ClusterMap(props: { snapshot: DashboardSnapshot }) {
  const { clusters, links } = props.snapshot;
  if (clusters.length === 0) return h(Empty, null, 'No clusters yet: add one with interlock cluster add.');
  return h(
    'div',
    { class: 'map-panel' },
    h(MapSvg, { clusters, links }),
    h(
      'ul',
      { class: 'legend', 'aria-label': 'Legend' },
      (['ok', 'warn', 'bad'] as const).map((health) => h('li', { key: health }, h('span', { class: `swatch health-${health}`, 'aria-hidden': 'true' }), HEALTH_LABEL[health])),
    ),
    h(
      'table',
      { class: 'links', 'aria-label': 'Links' },
      h('thead', null, h('tr', null, ['Link', 'Health', 'Traffic', 'Last call through', 'Why'].map((c) => h('th', { key: c, scope: 'col' }, c)))),
      h(
        'tbody',
        null,
        links.map((l) =>
          h(
            'tr',
            { key: l.id, class: `health-row-${l.health}` },
            h('th', { scope: 'row' }, linkName(l)),
            h('td', null, h(HealthBadge, { health: l.health })),
            h('td', null, linkSummary(l)),
            h('td', null, clock(l.lastSuccessAt)),
            h('td', null, h(Reasons, { reasons: l.reasons })),
          ),
        ),
      ),
    ),
    h(
      'table',
      { class: 'clusters', 'aria-label': 'Clusters' },
      h('thead', null, h('tr', null, ['Cluster', 'Health', 'Gateway SVID left', 'Intermediate left', 'Trust bundle', 'Policy bundle', 'Why'].map((c) => h('th', { key: c, scope: 'col' }, c)))),
      h(
        'tbody',
        null,
        clusters.map((c) =>
          h(
            'tr',
            { key: c.name, class: `health-row-${c.health}` },
            h('th', { scope: 'row' }, c.name, h('div', { class: 'muted small' }, c.trustDomain)),
            h('td', null, h(HealthBadge, { health: c.health })),
            h('td', null, c.gateway.svidSecondsLeft === null ? 'none' : humanSeconds(c.gateway.svidSecondsLeft)),
            h('td', null, c.gateway.intermediateSecondsLeft === null ? 'none' : humanSeconds(c.gateway.intermediateSecondsLeft)),
            h('td', null, c.gateway.trust, c.gateway.trustReportedAt ? h('div', { class: 'muted small' }, `reported ${clock(c.gateway.trustReportedAt)}`) : null),
            h('td', null, c.gateway.policyState),
            h('td', null, h(Reasons, { reasons: c.reasons })),
          ),
        ),
      ),
    ),
  );
}
