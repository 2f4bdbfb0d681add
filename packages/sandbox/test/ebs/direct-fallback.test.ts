import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { StateStore } from '../../src/core/state.js';
import { alignedBlock } from '../../src/ebs/direct.js';
import { LayeredBlockEngine } from '../../src/ebs/engine.js';
import { block, expectBytes } from './helpers.js';

/**
 * File systems that refuse O_DIRECT, simulated (this machine's /tmp and tmpfs both take it): `open` makes an
 * O_DIRECT open fail with EINVAL (old tmpfs), `io` lets it open but fails its reads and writes (some FUSE).
 */
const sim = vi.hoisted(() => ({
  mode: 'normal' as 'normal' | 'open' | 'io',
  directOpens: 0,
  directFds: new Set<number>(),
}));

vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  const einval = () => Object.assign(new Error('EINVAL: invalid argument (simulated)'), { code: 'EINVAL' });
  const direct = (flags: unknown) => typeof flags === 'number' && (flags & real.constants.O_DIRECT) !== 0;
  const refused = (fd: number) => sim.mode === 'io' && sim.directFds.has(fd);
  return {
    ...real,
    openSync: (path: string, flags: number, mode?: number) => {
      if (direct(flags)) {
        sim.directOpens++;
        if (sim.mode === 'open') throw einval();
      }
      const fd = real.openSync(path, flags, mode);
      if (direct(flags)) sim.directFds.add(fd);
      return fd;
    },
    closeSync: (fd: number) => {
      sim.directFds.delete(fd);
      real.closeSync(fd);
    },
    writeSync: (fd: number, ...rest: unknown[]) => {
      if (refused(fd)) throw einval();
      return (real.writeSync as (...a: unknown[]) => number)(fd, ...rest);
    },
    readSync: (fd: number, ...rest: unknown[]) => {
      if (refused(fd)) throw einval();
      return (real.readSync as (...a: unknown[]) => number)(fd, ...rest);
    },
  };
});

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
afterEach(() => {
  sim.mode = 'normal';
  sim.directOpens = 0;
});

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('base64');
function aligned(seed: number): Buffer {
  const b = alignedBlock();
  b.set(block(seed));
  return b;
}

/** Puts blocks 0..4 from aligned memory (as PutSnapshotBlock does), then reads them every way GetSnapshotBlock may. */
function roundTrip(engine: LayeredBlockEngine, id: string, seed: number): void {
  engine.startSnapshot(id, 1);
  for (let i = 0; i < 5; i++) engine.putSnapshotBlock(id, i, aligned(seed + i), sha(block(seed + i)));
  engine.completeSnapshot(id);
  expectReads(engine, id, seed);
}

function expectReads(engine: LayeredBlockEngine, id: string, seed: number): void {
  for (let i = 0; i < 5; i++) {
    const into = alignedBlock(); // direct where it can go direct
    const hash = engine.readSnapshotBlockInto(id, i, into);
    expectBytes(into, block(seed + i));
    expect(hash.toString('base64')).toBe(sha(block(seed + i)));
    expectBytes(engine.readSnapshotBlock(id, i).data, block(seed + i)); // a plain buffer: buffered
  }
}

function fresh(): { dir: string; engine: LayeredBlockEngine } {
  const dir = mkdtempSync(join(tmpdir(), 'direct-fallback-'));
  dirs.push(dir);
  return { dir, engine: new LayeredBlockEngine(dir, new StateStore(dir)) };
}

describe('O_DIRECT fallback', () => {
  it('reads and writes buffered when O_DIRECT opens fail, trying once per file', () => {
    const { dir, engine } = fresh();
    sim.mode = 'open';
    roundTrip(engine, 'snap-1', 10);
    expect(sim.directOpens).toBe(1); // one data file: refused once, then remembered
    engine.close();
    sim.mode = 'normal'; // the same files, on a file system that takes O_DIRECT after all
    const again = new LayeredBlockEngine(dir, new StateStore(dir));
    expectReads(again, 'snap-1', 10);
    expect(sim.directOpens).toBe(2);
    again.close();
  });

  it('falls back when direct reads and writes answer EINVAL, and closes the direct descriptor', () => {
    const { engine } = fresh();
    sim.mode = 'io';
    roundTrip(engine, 'snap-1', 20);
    expect(sim.directOpens).toBe(1);
    expect(sim.directFds.size).toBe(0);
    engine.close();
  });

  it('goes direct on a file system that takes it', () => {
    const { engine } = fresh();
    roundTrip(engine, 'snap-1', 30);
    expect(sim.directOpens).toBe(1);
    expect(sim.directFds.size).toBe(1);
    // Compaction (rewritten blocks) copies through an aligned buffer, direct too.
    engine.startSnapshot('snap-2', 1);
    for (let round = 0; round < 3; round++)
      for (let i = 0; i < 16; i++) engine.putSnapshotBlock('snap-2', i, aligned(40 + i), sha(block(40 + i)));
    engine.completeSnapshot('snap-2');
    const into = alignedBlock();
    engine.readSnapshotBlockInto('snap-2', 15, into);
    expectBytes(into, block(55));
    engine.close();
    expect(sim.directFds.size).toBe(0);
  });
});
