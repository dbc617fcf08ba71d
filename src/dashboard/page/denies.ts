import { h } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { DenyRow } from '../snapshot.ts';
import { ApiError, getJson } from './api.ts';
import { Empty, clock } from './ui.ts';

/** An audit record the page can open: `#audit=<stream>:<seq>` in the address, so it can be shared. */
export interface AuditRef {
  readonly stream: string;
  readonly seq: number;
}

export const auditHref = (ref: AuditRef): string => `#audit=${encodeURIComponent(ref.stream)}:${ref.seq}`;

export function parseAuditHash(hash: string): AuditRef | null {
  const match = /^#audit=([^:]+):(\d+)$/.exec(hash);
  return match ? { stream: decodeURIComponent(match[1]!), seq: Number(match[2]) } : null;
}

export function Denies(props: { denies: readonly DenyRow[] }) {
  if (props.denies.length === 0) return h(Empty, null, 'No denied calls recorded.');
  return h(
    'table',
    { class: 'denies', 'aria-label': 'Recent denies' },
    h('thead', null, h('tr', null, ['Time', 'Principal', 'Resource', 'Request', 'Reason', 'Audit record'].map((c) => h('th', { key: c, scope: 'col' }, c)))),
    h(
      'tbody',
      null,
      props.denies.map((d) =>
        h(
          'tr',
          { key: `${d.stream}:${d.seq}` },
          h('td', null, clock(d.time)),
          h('td', { class: 'mono' }, d.principal),
          h('td', { class: 'mono nowrap' }, d.resource),
          h('td', { class: 'mono nowrap' }, `${d.method} ${d.path}`.trim() || '—'),
          h('td', null, d.code ? h('code', null, d.code) : null, d.reason && d.reason !== d.code ? h('div', { class: 'small' }, d.reason) : null),
          h('td', null, h('a', { href: auditHref(d), 'aria-label': `Open audit record ${d.stream} #${d.seq}` }, `${d.stream} #${d.seq}`)),
        ),
      ),
    ),
  );
}

interface StoredRecord {
  readonly seq: number;
  readonly time: string;
  readonly type: string;
  readonly actor?: string;
  readonly data: Record<string, unknown>;
  readonly prev: string;
  readonly hash: string;
}

/** The record as the control plane holds it in the gateway's shipped chain (needs the auditor role). */
export function AuditPanel(props: { target: AuditRef; token: string; onClose: () => void }) {
  const { stream, seq } = props.target;
  const [record, setRecord] = useState<StoredRecord | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    setRecord(null);
    setError(null);
    getJson<StoredRecord[]>(`/v1/audit/streams/${encodeURIComponent(stream)}?after=${seq - 1}&limit=1`, props.token)
      .then((found) => (found[0]?.seq === seq ? setRecord(found[0]) : setError(new ApiError('IL_ERR_NOT_FOUND', `${stream} has no record ${seq} yet`, 404))))
      .catch((e: ApiError) => setError(e));
    heading.current?.focus();
  }, [stream, seq, props.token]);
  const data = record?.data ?? {};
  const fields: Array<[string, unknown]> = record
    ? [
        ['time', record.time],
        ['type', record.type],
        ['actor', record.actor],
        ['decision', data.decision],
        ['principal', data.principal],
        ['resource', data.resource],
        ['reason', data.reason],
        ['policy version', data.policyVersion],
        ['trace id', data.traceId],
        ['hash', record.hash],
        ['prev', record.prev],
      ]
    : [];
  return h(
    'aside',
    { class: 'audit-panel', role: 'dialog', 'aria-labelledby': 'audit-title' },
    h('button', { type: 'button', class: 'close', onClick: props.onClose, 'aria-label': 'Close audit record' }, '×'),
    h('h2', { id: 'audit-title', tabIndex: -1, ref: heading }, `Audit record ${stream} #${seq}`),
    error ? h('p', { class: 'error', role: 'alert' }, h('code', null, error.code), ' ', error.message) : null,
    !record && !error ? h('p', null, 'Loading…') : null,
    record
      ? h(
          'div',
          null,
          h(
            'dl',
            { class: 'record' },
            fields.filter(([, v]) => v !== undefined && v !== null && v !== '').map(([k, v]) => h('div', { key: k }, h('dt', null, k), h('dd', { class: 'mono' }, String(v)))),
          ),
          h('details', null, h('summary', null, 'Full record (JSON)'), h('pre', null, JSON.stringify(record, null, 2))),
          h('p', { class: 'note' }, 'Verify the whole chain with interlock audit verify-server.'),
        )
      : null,
  );
}
