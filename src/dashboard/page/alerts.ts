import { h } from 'preact';
import type { AlertRow, IncidentRow } from '../snapshot.ts';
import { Empty, clock } from './ui.ts';

export function Alerts(props: { alerts: readonly AlertRow[] }) {
  if (props.alerts.length === 0) return h(Empty, null, 'No alerts in the last 24 hours.');
  return h(
    'table',
    { 'aria-label': 'Alerts' },
    h('thead', null, h('tr', null, ['Time', 'Detector', 'Cluster', 'Summary', 'Action'].map((c) => h('th', { key: c, scope: 'col' }, c)))),
    h(
      'tbody',
      null,
      props.alerts.map((a, i) =>
        h('tr', { key: `${a.at}-${i}` }, h('td', null, clock(a.at)), h('td', null, a.detector), h('td', null, a.cluster), h('td', null, a.summary), h('td', null, a.action, a.incident ? h('div', { class: 'muted small mono' }, `incident ${a.incident.slice(0, 8)}`) : null)),
      ),
    ),
  );
}

export function Incidents(props: { incidents: readonly IncidentRow[] }) {
  if (props.incidents.length === 0) return h(Empty, null, 'No open incidents.');
  return h(
    'table',
    { 'aria-label': 'Open incidents' },
    h('thead', null, h('tr', null, ['Opened', 'Incident', 'Scope', 'Reason', 'Trigger', 'Last step'].map((c) => h('th', { key: c, scope: 'col' }, c)))),
    h(
      'tbody',
      null,
      props.incidents.map((i) =>
        h(
          'tr',
          { key: i.id, class: 'attention' },
          h('td', null, clock(i.openedAt)),
          h('td', { class: 'mono' }, i.id.slice(0, 8)),
          h('td', { class: 'mono' }, i.scope),
          h('td', null, i.reason),
          h('td', null, i.trigger),
          h('td', null, `${i.lastStep} at ${clock(i.lastStepAt)}`),
        ),
      ),
    ),
  );
}
