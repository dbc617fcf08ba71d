import { h, type ComponentChildren } from 'preact';
import type { Health } from '../snapshot.ts';

/** Small pieces every panel uses. */

export const HEALTH_LABEL: Record<Health, string> = { ok: 'healthy', warn: 'needs attention', bad: 'broken' };

export function Section(props: { id: string; title: string; note?: ComponentChildren; children?: ComponentChildren }) {
  return h(
    'section',
    { class: 'panel', id: props.id, 'aria-labelledby': `${props.id}-title` },
    h('h2', { id: `${props.id}-title` }, props.title),
    props.note ? h('p', { class: 'note' }, props.note) : null,
    props.children,
  );
}

/** A coloured dot plus the word: colour is never the only signal. */
export function HealthBadge(props: { health: Health }) {
  return h('span', { class: `badge health-${props.health}` }, HEALTH_LABEL[props.health]);
}

export function Empty(props: { children?: ComponentChildren }) {
  return h('p', { class: 'empty' }, props.children);
}

/** Local time; the date too when it is not today. */
export function clock(iso: string | null): string {
  if (!iso) return '—';
  const date = new Date(iso);
  const sameDay = date.toDateString() === new Date().toDateString();
  return sameDay ? date.toLocaleTimeString([], { hour12: false }) : `${date.toLocaleDateString()} ${date.toLocaleTimeString([], { hour12: false })}`;
}

export function millis(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  return ms < 1 ? `${ms.toFixed(3)} ms` : ms < 100 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

export function percent(rate: number | null): string {
  return rate === null ? '—' : `${(rate * 100).toFixed(rate > 0 && rate < 0.01 ? 2 : 1)}%`;
}

export function rate(perSecond: number): string {
  return perSecond === 0 ? '0' : perSecond < 0.1 ? perSecond.toFixed(3) : perSecond.toFixed(2);
}
