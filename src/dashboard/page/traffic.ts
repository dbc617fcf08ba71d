import { h } from 'preact';
import type { DashboardSnapshot, TrafficDirection } from '../snapshot.ts';
import { TimeChart } from './chart.ts';
import { Empty, millis, percent, rate } from './ui.ts';

const COLOURS = ['#2563eb', '#9333ea', '#0891b2', '#ca8a04', '#db2777', '#16a34a'];

function Direction(props: { d: TrafficDirection; times: readonly number[] }) {
  const { d } = props;
  const name = `${d.from} → ${d.to}`;
  return h(
    'article',
    { class: 'direction', 'aria-label': `Traffic ${name}` },
    h('h3', null, name),
    h(
      'dl',
      { class: 'stats' },
      [
        ['requests/s', rate(d.requestsPerSecond)],
        ['calls', String(d.calls)],
        ['error rate', percent(d.errorRate)],
        ['latency p50', millis(d.latencyMs?.p50)],
        ['latency p95', millis(d.latencyMs?.p95)],
        ['allowed', String(d.allow)],
        ['denied', String(d.deny)],
      ].map(([label, value]) => h('div', { key: label }, h('dt', null, label), h('dd', null, value))),
    ),
    h(TimeChart, {
      title: `${name}: requests/s, errors/s and p95 latency`,
      times: props.times,
      yLabel: 'per second',
      series: [
        { label: 'requests/s', values: d.series.requestsPerSecond, scale: 'y', colour: '#2563eb' },
        { label: 'errors/s', values: d.series.errorsPerSecond, scale: 'y', colour: '#c62828' },
        { label: 'p95 latency (ms)', values: d.series.p95Ms, scale: 'ms', colour: '#6b7280', dash: true },
      ],
    }),
    d.byPolicy.length === 0
      ? h(Empty, null, 'No verdicts recorded by the receiving gateway yet.')
      : h(
          'table',
          { class: 'by-policy', 'aria-label': `Verdicts by policy, ${name}` },
          h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Policy'), h('th', { scope: 'col', class: 'num' }, 'Allow'), h('th', { scope: 'col', class: 'num' }, 'Deny'))),
          h(
            'tbody',
            null,
            d.byPolicy.map((p) => h('tr', { key: p.policy }, h('th', { scope: 'row', class: 'mono' }, p.policy), h('td', { class: 'num' }, String(p.allow)), h('td', { class: 'num' }, String(p.deny)))),
          ),
        ),
  );
}

export function Traffic(props: { snapshot: DashboardSnapshot }) {
  const { traffic } = props.snapshot;
  if (traffic.directions.length === 0) return h(Empty, null, `No calls between clusters in the last ${props.snapshot.windowSeconds / 60} minutes.`);
  return h(
    'div',
    { class: 'directions' },
    traffic.directions.map((d) => h(Direction, { key: `${d.from}>${d.to}`, d, times: traffic.bucketStarts })),
  );
}

export function PolicyLatency(props: { snapshot: DashboardSnapshot }) {
  const { policyLatency, traffic } = props.snapshot;
  if (policyLatency.length === 0) return h(Empty, null, 'No policy decisions with a recorded evaluation time in the window.');
  return h(
    'div',
    null,
    h(
      'table',
      { 'aria-label': 'Policy evaluation latency by gateway' },
      h('thead', null, h('tr', null, ['Gateway (audit stream)', 'Decisions', 'p50', 'p95', 'max'].map((c) => h('th', { key: c, scope: 'col' }, c)))),
      h(
        'tbody',
        null,
        policyLatency.map((p) =>
          h('tr', { key: p.stream }, h('th', { scope: 'row' }, p.stream), h('td', null, String(p.decisions)), h('td', null, millis(p.ms?.p50)), h('td', null, millis(p.ms?.p95)), h('td', null, millis(p.ms?.max))),
        ),
      ),
    ),
    h(TimeChart, {
      title: 'Cedar evaluation time, p95 per 10 s',
      times: traffic.bucketStarts,
      series: policyLatency.map((p, i) => ({ label: p.stream, values: p.p95Series, scale: 'ms' as const, colour: COLOURS[i % COLOURS.length]! })),
    }),
  );
}
