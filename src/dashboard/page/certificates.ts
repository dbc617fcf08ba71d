import { h } from 'preact';
import { useState } from 'preact/hooks';
import type { CertificateRow } from '../snapshot.ts';
import { humanSeconds } from '../format.ts';
import { Empty, clock } from './ui.ts';

type Column = 'kind' | 'subject' | 'cluster' | 'status' | 'notAfter' | 'secondsLeft';
const COLUMNS: ReadonlyArray<{ key: Column; label: string }> = [
  { key: 'kind', label: 'Kind' },
  { key: 'subject', label: 'Subject' },
  { key: 'cluster', label: 'Cluster' },
  { key: 'status', label: 'Status' },
  { key: 'notAfter', label: 'Not after' },
  { key: 'secondsLeft', label: 'Time left' },
];
const MAX_ROWS = 500;

function compare(a: CertificateRow, b: CertificateRow, column: Column): number {
  if (column === 'secondsLeft') return a.secondsLeft - b.secondsLeft;
  return String(a[column] ?? '').localeCompare(String(b[column] ?? ''));
}

function matches(row: CertificateRow, filter: string): boolean {
  if (!filter) return true;
  const needle = filter.toLowerCase();
  return [row.kind, row.subject, row.cluster ?? '', row.status, row.serial].some((field) => field.toLowerCase().includes(needle));
}

/** Every CA and unexpired SVID, soonest to expire first; sortable by any column, filtered by a text box. */
export function Certificates(props: { rows: readonly CertificateRow[]; truncated: boolean }) {
  const [sort, setSort] = useState<{ column: Column; descending: boolean }>({ column: 'secondsLeft', descending: false });
  const [filter, setFilter] = useState('');
  const [soonOnly, setSoonOnly] = useState(false);
  const visible = props.rows
    .filter((r) => matches(r, filter.trim()) && (!soonOnly || r.expiringSoon))
    .sort((a, b) => compare(a, b, sort.column) * (sort.descending ? -1 : 1) || a.serial.localeCompare(b.serial));
  const soon = props.rows.filter((r) => r.expiringSoon).length;
  const toggle = (column: Column) => setSort((s) => ({ column, descending: s.column === column ? !s.descending : false }));
  return h(
    'div',
    null,
    h(
      'div',
      { class: 'toolbar' },
      h('label', null, 'Filter ', h('input', { type: 'search', value: filter, placeholder: 'SPIFFE ID, cluster, serial…', 'aria-label': 'Filter certificates', onInput: (e: Event) => setFilter((e.target as HTMLInputElement).value) })),
      h('label', null, h('input', { type: 'checkbox', checked: soonOnly, onChange: (e: Event) => setSoonOnly((e.target as HTMLInputElement).checked) }), ' expiring soon only'),
      h('span', { class: soon ? 'count warn-text' : 'count' }, `${props.rows.length} certificates, ${soon} expiring soon`),
    ),
    props.truncated ? h('p', { class: 'note' }, 'More SVIDs are valid than the dashboard reads; use interlock svid list for the full inventory.') : null,
    visible.length === 0
      ? h(Empty, null, 'No certificate matches.')
      : h(
          'table',
          { class: 'certs', 'aria-label': 'Certificates' },
          h(
            'thead',
            null,
            h(
              'tr',
              null,
              COLUMNS.map((c) =>
                h(
                  'th',
                  { key: c.key, scope: 'col', 'aria-sort': sort.column === c.key ? (sort.descending ? 'descending' : 'ascending') : 'none' },
                  h('button', { type: 'button', class: 'sort', onClick: () => toggle(c.key) }, c.label, sort.column === c.key ? (sort.descending ? ' ▼' : ' ▲') : ''),
                ),
              ),
            ),
          ),
          h(
            'tbody',
            null,
            visible.slice(0, MAX_ROWS).map((r) =>
              h(
                'tr',
                { key: r.serial, class: r.expiringSoon ? 'expiring' : r.status === 'revoked' || r.status === 'retired' ? 'inactive' : undefined },
                h('td', null, r.kind),
                h('td', { class: 'mono' }, r.subject, h('div', { class: 'muted small' }, `serial ${r.serial}`)),
                h('td', null, r.cluster ?? '—'),
                h('td', null, r.status),
                h('td', null, clock(r.notAfter)),
                h('td', null, humanSeconds(r.secondsLeft), r.expiringSoon ? h('span', { class: 'badge health-warn' }, 'expiring soon') : null, h('div', { class: 'muted small' }, `of ${humanSeconds(r.lifetimeSeconds)}`)),
              ),
            ),
          ),
        ),
    visible.length > MAX_ROWS ? h('p', { class: 'note' }, `Showing ${MAX_ROWS} of ${visible.length}; narrow the filter.`) : null,
  );
}
