import { createHash, createHmac } from 'node:crypto';
import {
  closeSync,
  createReadStream,
  ftruncateSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHUNK_SIZE } from '../src/format.js';
import { Repository } from '../src/repository.js';
import { LocalStore } from '../src/store/local.js';

/** Cheap scrypt for unit tests only; the CLI always uses STRONG_SCRYPT. */
export const TEST_KDF = { N: 1024, r: 8, p: 1 };

export function tempDir(prefix = 'lb-test-'): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

export async function newRepo(dir: string, password = 'test password'): Promise<Repository> {
  return Repository.init(new LocalStore(join(dir, 'repo')), password, { kdfCost: TEST_KDF });
}

/** Deterministic pseudo-random bytes (HMAC counter mode): the same seed gives the same bytes on every machine. */
export function prng(seed: string, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0, o = 0; o < length; i++) {
    o += createHmac('sha256', seed).update(String(i)).digest().copy(out, o);
  }
  return out;
}

export interface ImageSpec {
  sizeBytes: number;
  /** Block index -> content kind. Unlisted blocks are holes. */
  blocks: Record<number, 'random' | 'text' | `copy:${number}` | `seed:${string}`>;
}

/** Writes the image sparse (only its data blocks) and returns its bytes when small enough to hold. */
export function buildImage(path: string, spec: ImageSpec, seed = 'img'): Buffer {
  const fd = openSync(path, 'w');
  ftruncateSync(fd, spec.sizeBytes);
  const blockOf = (b: number): Buffer => {
    const kind = spec.blocks[b]!;
    if (kind === 'random') return prng(`${seed}-${b}`, CHUNK_SIZE);
    if (kind === 'text') return text;
    if (kind.startsWith('copy:')) return blockOf(Number(kind.slice(5)));
    return prng(kind.slice(5), CHUNK_SIZE);
  };
  for (const k of Object.keys(spec.blocks)) {
    const b = Number(k);
    writeSync(fd, blockOf(b), 0, Math.min(CHUNK_SIZE, spec.sizeBytes - b * CHUNK_SIZE), b * CHUNK_SIZE);
  }
  closeSync(fd);
  return spec.sizeBytes <= 64 * 1024 * 1024 ? readFileSync(path) : Buffer.alloc(0);
}

const text = Buffer.from('Lifeboat test data, compressible. '.repeat(20_000)).subarray(0, CHUNK_SIZE);

export function sha(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function shaFile(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * 1024 * 1024 }))
    h.update(chunk as Buffer);
  return h.digest('hex');
}
