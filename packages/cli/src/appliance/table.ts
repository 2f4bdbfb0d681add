/** Tables and human times for the appliance commands (machine output is --json). */
import { print } from '../context.js';

/** Prints rows under a header, columns padded to their widest cell (the last one left ragged). */
export function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  print(line(header));
  for (const r of rows) print(line(r));
}

/** `2025-06-01 12:00:03` (UTC, as the appliance keeps it). */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '-';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  return new Date(t).toISOString().slice(0, 19).replace('T', ' ');
}

/** `5 min ago`, `in 11 h`, `3 days ago`. */
export function relativeTime(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '-';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const diff = t - now;
  const s = Math.abs(diff) / 1000;
  const amount =
    s < 60
      ? `${Math.round(s)} s`
      : s < 3600
        ? `${Math.round(s / 60)} min`
        : s < 48 * 3600
          ? `${Math.round(s / 3600)} h`
          : `${Math.round(s / 86400)} days`;
  return diff >= 0 ? `in ${amount}` : `${amount} ago`;
}

export function formatTags(tags: Record<string, string> | null | undefined): string {
  if (!tags || Object.keys(tags).length === 0) return '-';
  return Object.entries(tags)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}
