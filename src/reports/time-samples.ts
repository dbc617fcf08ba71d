/**
 * Instants at which the trust-boundaries report evaluates a pair whose
 * policies read context.time. Cedar's datetime extension compares instants
 * and times of day (`toTime()`) in UTC, so windows are either hours of the
 * day or ranges between named datetimes: the half hour of every hour of the
 * report's day catches the first kind, a minute either side of each named
 * datetime the second. The report's own instant is always included.
 */
const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;

export function sampleInstants(now: Date, datetimes: readonly string[]): string[] {
  const instants = new Set<number>([now.getTime()]);
  const midnight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  for (let hour = 0; hour < 24; hour++) instants.add(midnight + hour * HOUR_MS + 30 * MINUTE_MS);
  for (const text of datetimes) {
    const at = Date.parse(text);
    if (Number.isNaN(at)) continue;
    instants.add(at - MINUTE_MS);
    instants.add(at + MINUTE_MS);
  }
  return [...instants].sort((a, b) => a - b).map((ms) => new Date(ms).toISOString());
}
