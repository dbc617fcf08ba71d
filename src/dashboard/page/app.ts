import { h } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { DashboardSnapshot } from '../snapshot.ts';
import { ApiError, forgetToken, getJson, savedToken, saveToken } from './api.ts';
import { ClusterMap } from './cluster-map.ts';
import { Certificates } from './certificates.ts';
import { PolicyLatency, Traffic } from './traffic.ts';
import { AuditPanel, Denies, parseAuditHash } from './denies.ts';
import { Rollout } from './rollout.ts';
import { Alerts, Incidents } from './alerts.ts';
import { Section, clock } from './ui.ts';

/**
 * Polls the snapshot every 2 s (paused while the tab is hidden). Polling,
 * not Server-Sent Events: EventSource cannot send an Authorization header,
 * and the data changes as gateways ship audit batches (every 0.5 s) rather
 * than on control-plane events, so a push channel would poll inside anyway.
 */
const POLL_MS = 2_000;

function TokenForm(props: { error: ApiError | null; onSubmit: (token: string) => void }) {
  const [value, setValue] = useState('');
  return h(
    'main',
    { class: 'signin' },
    h('h1', null, 'Interlock dashboard'),
    h(
      'form',
      {
        'aria-label': 'Sign in',
        onSubmit: (e: Event) => {
          e.preventDefault();
          if (value.trim()) props.onSubmit(value.trim());
        },
      },
      h('label', { for: 'token' }, 'Admin token'),
      h('input', { id: 'token', type: 'password', autocomplete: 'off', value, required: true, onInput: (e: Event) => setValue((e.target as HTMLInputElement).value) }),
      h('button', { type: 'submit' }, 'Open dashboard'),
      h('p', { class: 'note' }, 'An admin token with the auditor, operator or key-custodian role (interlock admin create). It is kept in this tab only and sent as a bearer token.'),
    ),
    props.error ? h('p', { class: 'error', role: 'alert' }, h('code', null, props.error.code), ' ', props.error.message) : null,
  );
}

export function App() {
  const [token, setToken] = useState(savedToken());
  const [snapshot, setSnapshot] = useState<DashboardSnapshot | null>(null);
  const [authError, setAuthError] = useState<ApiError | null>(null);
  const [pollError, setPollError] = useState<ApiError | null>(null);
  const [audit, setAudit] = useState(parseAuditHash(location.hash));

  useEffect(() => {
    const follow = () => setAudit(parseAuditHash(location.hash));
    addEventListener('hashchange', follow);
    return () => removeEventListener('hashchange', follow);
  }, []);

  useEffect(() => {
    if (!token) return undefined;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      if (!document.hidden) {
        try {
          const next = await getJson<DashboardSnapshot>('/v1/dashboard/snapshot', token);
          if (stopped) return;
          setSnapshot(next);
          setPollError(null);
        } catch (error) {
          if (stopped) return;
          const failure = error as ApiError;
          if (failure.status === 401 || failure.status === 403) {
            // A wrong token or one without the role: back to the form, with the control plane's code.
            forgetToken();
            setSnapshot(null);
            setAuthError(failure);
            setToken('');
            return;
          }
          setPollError(failure);
        }
      }
      if (!stopped) timer = setTimeout(() => void poll(), POLL_MS);
    };
    void poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [token]);

  if (!token) {
    return h(TokenForm, {
      error: authError,
      onSubmit: (value) => {
        saveToken(value);
        setAuthError(null);
        setToken(value);
      },
    });
  }
  const signOut = () => {
    forgetToken();
    setSnapshot(null);
    setToken('');
  };
  const header = h(
    'header',
    { class: 'top' },
    h('h1', null, 'Interlock'),
    h(
      'p',
      { class: pollError ? 'status stale' : 'status', role: 'status' },
      pollError ? `Not updating: ${pollError.code} ${pollError.message}. Retrying every 2 s; figures from ${clock(snapshot?.generatedAt ?? null)}.` : snapshot ? `Live · updated ${clock(snapshot.generatedAt)} · traffic over the last ${snapshot.windowSeconds / 60} min` : 'Loading…',
    ),
    h('button', { type: 'button', onClick: signOut }, 'Sign out'),
  );
  if (!snapshot) return h('div', null, header);
  const s = snapshot;
  return h(
    'div',
    { class: audit ? 'with-panel' : undefined },
    header,
    h(
      'main',
      { class: 'grid' },
      h(Section, { id: 'map', title: 'Clusters and links', note: 'Each line is a link between two clusters. Its colour, and the reasons behind it, are listed in the tables below (and shown when hovering the map).' }, h(ClusterMap, { snapshot: s })),
      h(Section, { id: 'certificates', title: 'Certificates', note: 'Highlighted: less than 7 days or a third of its lifetime left, whichever is shorter.' }, h(Certificates, { rows: s.certificates.rows, truncated: s.certificates.truncated })),
      h(
        Section,
        { id: 'traffic', title: 'Traffic between clusters', note: s.sampledStreams.length ? `Busy streams (${s.sampledStreams.join(', ')}): figures cover only their newest records.` : undefined },
        h(Traffic, { snapshot: s }),
      ),
      h(Section, { id: 'denies', title: 'Recent denies', note: 'Newest first. Open a record to see it as the control plane holds it in the gateway’s audit chain.' }, h(Denies, { denies: s.denies })),
      h(Section, { id: 'policy-latency', title: 'Policy evaluation latency', note: 'Time Cedar took to decide, as each receiving gateway recorded it in its audit chain.' }, h(PolicyLatency, { snapshot: s })),
      h(Section, { id: 'rollout', title: 'Policy rollout' }, h(Rollout, { policy: s.policy })),
      h(Section, { id: 'alerts', title: 'Alerts' }, h(Alerts, { alerts: s.alerts })),
      h(Section, { id: 'incidents', title: 'Incidents' }, h(Incidents, { incidents: s.incidents })),
    ),
    audit
      ? h(AuditPanel, {
          target: audit,
          token,
          onClose: () => {
            history.replaceState(null, '', location.pathname);
            setAudit(null);
          },
        })
      : null,
  );
}
