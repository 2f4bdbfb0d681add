import { copyFileSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Rng, randomBytes } from './prng.js';

/**
 * Generated, deterministic file trees: text (logs, configs, CSV) that compresses, binaries from a seeded PRNG
 * that do not, and exact duplicates (for deduplication to find). Every file gets the same fixed mtime.
 */
export type FileSpec =
  | { path: string; kind: 'text'; style: 'log' | 'csv' | 'conf' | 'html'; bytes: number }
  | { path: string; kind: 'binary'; bytes: number }
  | { path: string; kind: 'copy'; from: string }
  | { path: string; kind: 'literal'; content: string };

const FIXED_TIME = new Date('2024-06-01T12:00:00Z');

const WORDS = [
  'request', 'served', 'cache', 'miss', 'hit', 'user', 'session', 'order', 'payment', 'invoice', 'backup',
  'volume', 'snapshot', 'replica', 'queue', 'worker', 'retry', 'timeout', 'connected', 'closed', 'ok', 'error',
];
const LEVELS = ['INFO', 'INFO', 'INFO', 'DEBUG', 'WARN', 'ERROR'];

function textLine(rng: Rng, style: string, n: number): string {
  const words = Array.from({ length: rng.int(3, 9) }, () => rng.pick(WORDS)).join(' ');
  switch (style) {
    case 'log': {
      const t = new Date(Date.UTC(2024, 4, 1) + n * 1375).toISOString();
      return `${t} ${rng.pick(LEVELS)} [${rng.pick(WORDS)}-${rng.int(1, 8)}] ${words} id=${rng.int(1, 1e6)}\n`;
    }
    case 'csv':
      return `${n},${rng.pick(WORDS)},${rng.int(1, 99999)},${(rng.next() * 1000).toFixed(2)},${words}\n`;
    case 'html':
      return `<p class="${rng.pick(WORDS)}">${words}</p>\n`;
    default:
      return `${rng.pick(WORDS)}_${rng.pick(WORDS)} = ${rng.int(0, 4096)}  # ${words}\n`;
  }
}

function text(seed: string, style: string, bytes: number): string {
  const rng = new Rng(seed);
  const parts: string[] = [];
  let size = 0;
  for (let n = 0; size < bytes; n++) {
    const line = textLine(rng, style, n);
    parts.push(line);
    size += line.length;
  }
  return parts.join('').slice(0, bytes);
}

/** Writes the files under root; returns the bytes written. Seeds derive from `seed` and each path. */
export function writeTree(root: string, seed: string, files: FileSpec[]): number {
  let total = 0;
  const dirs = new Set<string>();
  for (const f of files) {
    const path = join(root, f.path);
    mkdirSync(dirname(path), { recursive: true });
    dirs.add(dirname(path));
    if (f.kind === 'binary') {
      writeFileSync(path, randomBytes(`${seed}:${f.path}`, f.bytes));
      total += f.bytes;
    } else if (f.kind === 'text') {
      const t = text(`${seed}:${f.path}`, f.style, f.bytes);
      writeFileSync(path, t);
      total += t.length;
    } else if (f.kind === 'copy') {
      copyFileSync(join(root, f.from), path);
    } else {
      writeFileSync(path, f.content);
      total += f.content.length;
    }
    utimesSync(path, FIXED_TIME, FIXED_TIME);
  }
  for (const d of dirs) utimesSync(d, FIXED_TIME, FIXED_TIME);
  return total;
}
