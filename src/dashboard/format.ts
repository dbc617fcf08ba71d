/** Formatting shared by the snapshot's reasons (server) and the page. */

const DAY_SECONDS = 86_400;

/** "3 d", "5 h", "12 min", "40 s": time left, as people read it. Negative means already past. */
export function humanSeconds(seconds: number): string {
  if (seconds < 0) return `expired ${humanSeconds(-seconds)} ago`;
  const s = Math.round(seconds);
  if (s >= 2 * DAY_SECONDS) return `${Math.floor(s / DAY_SECONDS)} d`;
  if (s >= 7_200) return `${Math.floor(s / 3_600)} h`;
  if (s >= 120) return `${Math.floor(s / 60)} min`;
  return `${s} s`;
}
