import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BLOCK_SIZE } from '../../src/core/blocks.js';
import { StateStore } from '../../src/core/state.js';
import { LayeredBlockEngine } from '../../src/ebs/engine.js';

const dirs: string[] = [];
function fresh(): { dir: string; engine: LayeredBlockEngine } {
  const dir = mkdtempSync(join(tmpdir(), 'engine-test-'));
  dirs.push(dir);
  return { dir, engine: new LayeredBlockEngine(dir, new StateStore(dir)) };
}
const reopen = (dir: string) => new LayeredBlockEngine(dir, new StateStore(dir));
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const fill = (byte: number, n = BLOCK_SIZE) => Buffer.alloc(n, byte);
/** Buffer.equals: vitest's deep equality walks 512 KiB buffers byte by byte (seconds per block). */
const expectBytes = (a: Buffer, b: Buffer) => expect(a.equals(b)).toBe(true);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('base64');

describe('LayeredBlockEngine', () => {
  it('reads back writes at any offset; unwritten space reads as zeros', () => {
    const { engine } = fresh();
    engine.createVolume('vol-1', 1);
    engine.writeVolume('vol-1', BLOCK_SIZE - 3, Buffer.from('abcdef'));
    expect(engine.readVolume('vol-1', BLOCK_SIZE - 5, 10)).toEqual(Buffer.from('\0\0abcdef\0\0'));
    expect(engine.readVolume('vol-1', 10 * BLOCK_SIZE, 4)).toEqual(Buffer.alloc(4));
    expect(() => engine.writeVolume('vol-1', 1024 ** 3 - 1, Buffer.alloc(2))).toThrow(/beyond/);
  });

  it('freezes a snapshot: later writes to the volume do not show in it', () => {
    const { engine } = fresh();
    engine.createVolume('vol-1', 1);
    engine.writeVolume('vol-1', 0, fill(1));
    engine.createSnapshotFromVolume('snap-1', 'vol-1');
    engine.writeVolume('vol-1', 0, fill(2));
    engine.writeVolume('vol-1', BLOCK_SIZE, fill(3));
    engine.createSnapshotFromVolume('snap-2', 'vol-1');
    expectBytes(engine.readSnapshotBlock('snap-1', 0).data, fill(1));
    expectBytes(engine.readSnapshotBlock('snap-1', 1).data, fill(0));
    expectBytes(engine.readSnapshotBlock('snap-2', 0).data, fill(2));
    expect(engine.readSnapshotBlock('snap-2', 0).checksum).toBe(sha(fill(2)));
    expect(engine.listSnapshotBlocks('snap-2', 0, 100).map((b) => b.index)).toEqual([0, 1]);
    expect(engine.listChangedBlocks('snap-1', 'snap-2', 0, 100)?.map((c) => c.index)).toEqual([0, 1]);
    expect(engine.lineageOf('snap-1')).toBe(engine.lineageOf('snap-2'));
  });

  it('reports blocks written between snapshots, even when rewritten with the same bytes', () => {
    const { engine } = fresh();
    engine.createVolume('vol-1', 1);
    engine.writeVolume('vol-1', 0, fill(7, 3 * BLOCK_SIZE));
    engine.createSnapshotFromVolume('snap-1', 'vol-1');
    engine.writeVolume('vol-1', BLOCK_SIZE, fill(7));
    engine.createSnapshotFromVolume('snap-2', 'vol-1');
    const changed = engine.listChangedBlocks('snap-1', 'snap-2', 0, 100);
    expect(changed?.map((c) => c.index)).toEqual([1]);
    expect(changed?.[0]?.first?.checksum).toBe(changed?.[0]?.second?.checksum);
  });

  it('keeps volumes made from a snapshot in its lineage; full copies start a new one', () => {
    const { engine } = fresh();
    engine.createVolume('vol-1', 1);
    engine.writeVolume('vol-1', 0, fill(1));
    engine.createSnapshotFromVolume('snap-1', 'vol-1');
    engine.createVolume('vol-2', 2, 'snap-1');
    expectBytes(engine.readVolume('vol-2', 0, BLOCK_SIZE), fill(1));
    engine.writeVolume('vol-2', 5 * BLOCK_SIZE, fill(9));
    engine.createSnapshotFromVolume('snap-2', 'vol-2');
    expect(engine.listChangedBlocks('snap-1', 'snap-2', 0, 100)?.map((c) => c.index)).toEqual([5]);
    engine.copySnapshot('snap-3', 'snap-1', false);
    engine.copySnapshot('snap-4', 'snap-1', true);
    expect(engine.listChangedBlocks('snap-1', 'snap-3', 0, 100)).toBeUndefined();
    expect(engine.listChangedBlocks('snap-1', 'snap-4', 0, 100)).toEqual([]);
    expectBytes(engine.readSnapshotBlock('snap-3', 0).data, fill(1));
  });

  it('pages ListChangedBlocks as AWS does: scans written blocks of both, may return empty pages', () => {
    const { engine } = fresh();
    engine.createVolume('vol-1', 1);
    engine.writeVolume('vol-1', 0, fill(0, 300 * BLOCK_SIZE)); // written zeros: listed, but stored as nothing
    engine.createSnapshotFromVolume('snap-1', 'vol-1');
    engine.writeVolume('vol-1', 299 * BLOCK_SIZE, fill(2));
    engine.createSnapshotFromVolume('snap-2', 'vol-1');
    const pages: number[][] = [];
    let start: number | undefined = 0;
    while (start !== undefined) {
      const page = engine.changedPage('snap-1', 'snap-2', start, 100);
      pages.push(page?.entries.map((e) => e.index) ?? []);
      start = page?.next;
    }
    expect(pages).toEqual([[], [], [299]]);
  });

  it('writes EBS direct snapshots over a parent and seals them', () => {
    const { engine } = fresh();
    engine.startSnapshot('snap-a', 1);
    engine.putSnapshotBlock('snap-a', 3, fill(4), sha(fill(4)));
    engine.completeSnapshot('snap-a');
    engine.startSnapshot('snap-b', 1, 'snap-a');
    engine.putSnapshotBlock('snap-b', 4, fill(5), sha(fill(5)));
    expect(engine.ownBlocks('snap-b').indexes).toEqual(new Uint32Array([4]));
    engine.completeSnapshot('snap-b');
    expect(engine.listSnapshotBlocks('snap-b', 0, 10).map((b) => b.index)).toEqual([3, 4]);
    expect(engine.listChangedBlocks('snap-a', 'snap-b', 0, 10)?.map((c) => c.index)).toEqual([4]);
    expect(() => engine.putSnapshotBlock('snap-b', 5, fill(5), sha(fill(5)))).toThrow(/not pending/);
  });

  it('survives a restart: volumes, snapshots, pending direct snapshots and lineage', () => {
    const { dir, engine } = fresh();
    engine.createVolume('vol-1', 1);
    engine.writeVolume('vol-1', 0, fill(1));
    engine.createSnapshotFromVolume('snap-1', 'vol-1');
    engine.writeVolume('vol-1', 0, fill(2));
    engine.startSnapshot('snap-d', 1);
    engine.putSnapshotBlock('snap-d', 0, fill(3), sha(fill(3)));
    const again = reopen(dir);
    expectBytes(again.readSnapshotBlock('snap-1', 0).data, fill(1));
    expectBytes(again.readVolume('vol-1', 0, 4), fill(2, 4));
    again.putSnapshotBlock('snap-d', 1, fill(4), sha(fill(4)));
    again.completeSnapshot('snap-d');
    again.createSnapshotFromVolume('snap-2', 'vol-1');
    expect(again.listChangedBlocks('snap-1', 'snap-2', 0, 10)?.map((c) => c.index)).toEqual([0]);
    expect(again.listSnapshotBlocks('snap-d', 0, 10).map((b) => b.index)).toEqual([0, 1]);
  });

  it('compacts a layer whose blocks were rewritten many times before it freezes', () => {
    const { dir, engine } = fresh();
    engine.createVolume('vol-1', 1);
    engine.writeVolume('vol-1', 3 * BLOCK_SIZE, fill(9));
    for (let i = 0; i < 40; i++) engine.writeVolume('vol-1', 0, fill(i + 1));
    engine.createSnapshotFromVolume('snap-1', 'vol-1');
    const bytes = readdirSync(join(dir, 'layers'))
      .filter((f) => f.endsWith('.dat'))
      .map((f) => statSync(join(dir, 'layers', f)).size);
    expect(bytes).toEqual([2 * BLOCK_SIZE]);
    expectBytes(engine.readSnapshotBlock('snap-1', 0).data, fill(40));
    expectBytes(engine.readSnapshotBlock('snap-1', 3).data, fill(9));
    expectBytes(reopen(dir).readSnapshotBlock('snap-1', 0).data, fill(40));
  });

  it("deletes a layer's files when the last snapshot and volume using it are gone", () => {
    const { dir, engine } = fresh();
    engine.createVolume('vol-1', 1);
    engine.writeVolume('vol-1', 0, fill(1));
    engine.createSnapshotFromVolume('snap-1', 'vol-1');
    engine.writeVolume('vol-1', 0, fill(2));
    engine.createSnapshotFromVolume('snap-2', 'vol-1');
    const files = () => readdirSync(join(dir, 'layers')).filter((f) => f.endsWith('.dat'));
    expect(files()).toHaveLength(2);
    engine.deleteSnapshot('snap-1');
    expect(files()).toHaveLength(2); // snap-2 still lies on snap-1's layer
    engine.deleteVolume('vol-1');
    engine.deleteSnapshot('snap-2');
    expect(readdirSync(join(dir, 'layers'))).toHaveLength(0);
  });
});
