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
  'request',
  'served',
  'cache',
  'miss',
  'hit',
  'user',
  'session',
  'order',
  'payment',
  'invoice',
  'backup',
  'volume',
  'snapshot',
  'replica',
  'queue',
  'worker',
  'retry',
  'timeout',
  'connected',
  'closed',
  'ok',
  'error',
];
const LEVELS = ['INFO', 'INFO', 'INFO', 'DEBUG', 'WARN', 'ERROR'];

/** A line's body; numbered or time-stamped prefixes are added per line so that lines stay distinct. */
function lineBody(rng: Rng, style: string): string {
  const words = Array.from({ length: rng.int(3, 9) }, () => rng.pick(WORDS)).join(' ');
  switch (style) {
    case 'log':
      return ` ${rng.pick(LEVELS)} [${rng.pick(WORDS)}-${rng.int(1, 8)}] ${words} id=${rng.int(1, 1e6)}\n`;
    case 'csv':
      return `,${rng.pick(WORDS)},${rng.int(1, 99999)},${(rng.next() * 1000).toFixed(2)},${words}\n`;
    case 'html':
      return `<p class="${rng.pick(WORDS)}">${words}</p>\n`;
    default:
      return `${rng.pick(WORDS)}_${rng.pick(WORDS)} = ${rng.int(0, 4096)}  # ${words}\n`;
  }
}

const two = (n: number) => (n < 10 ? `0${n}` : String(n));

/** Log lines are 1.375 s apart from 2024-05-01; formatted by hand, as Date#toISOString dominated the cost. */
function logTime(n: number): string {
  const ms = n * 1375;
  const s = Math.floor(ms / 1000);
  const day = 1 + Math.floor(s / 86400);
  const frac = String(ms % 1000).padStart(3, '0');
  return `2024-05-${two(day)}T${two(Math.floor(s / 3600) % 24)}:${two(Math.floor(s / 60) % 60)}:${two(s % 60)}.${frac}Z`;
}

function prefix(style: string, n: number): string {
  if (style === 'log') return logTime(n);
  return style === 'csv' ? String(n) : '';
}

/** Text of exactly `bytes` bytes: lines drawn from a seeded pool of bodies (fast), each with its own prefix. */
function text(seed: string, style: string, bytes: number): Buffer {
  const rng = new Rng(seed);
  const pool = Array.from({ length: 512 }, () => lineBody(rng, style));
  const out = Buffer.alloc(bytes);
  let pos = 0;
  for (let n = 0; pos < bytes; n++)
    pos += out.write(prefix(style, n) + pool[Math.floor(rng.next() * pool.length)]!, pos, 'latin1');
  return out;
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
      writeFileSync(path, text(`${seed}:${f.path}`, f.style, f.bytes));
      total += f.bytes;
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
