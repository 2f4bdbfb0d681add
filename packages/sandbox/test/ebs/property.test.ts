import {
  GetSnapshotBlockCommand,
  ListChangedBlocksCommand,
  ListSnapshotBlocksCommand,
} from '@aws-sdk/client-ebs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../src/index.js';
import { BLOCK_SIZE, collect, ebs, expectBytes, sandbox, sha256 } from './helpers.js';

/**
 * Property: after any sequence of volume writes, snapshots and restores (a new volume from an earlier snapshot,
 * which continues the lineage), every snapshot reads back exactly the bytes its volume had at that instant, and
 * ListChangedBlocks between any two snapshots of the lineage returns exactly the blocks written between them.
 * The model tags each block with the id of the write that last touched it: two snapshots differ at a block iff
 * the tags differ (a rewrite with identical bytes counts as a write, as AWS reports written blocks).
 */
const REGION_BLOCKS = 128; // writes land in the first 64 MiB of a 1 GiB volume
const SEEDS = [1, 2, 3];
const STEPS = 30;

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Model {
  volumeId: string;
  tags: Int32Array; // per block: id of the last write, 0 = never written
}

let sb: RunningSandbox;
beforeAll(async () => {
  sb = await sandbox({ adminToken: 'prop' });
});
afterAll(() => sb.close());

const ZERO = Buffer.alloc(BLOCK_SIZE);

async function adminWrite(volumeId: string, offset: number, data: Buffer) {
  const r = await fetch(`${sb.endpoint}/_sandbox/volumes/${volumeId}/content?offset=${offset}`, {
    method: 'PUT',
    headers: { authorization: 'Bearer prop' },
    body: data,
  });
  expect(r.status).toBe(200);
}

async function run(seed: number) {
  const random = rng(seed);
  const int = (n: number) => Math.floor(random() * n);
  const contents = new Map<number, Buffer>([[0, ZERO]]); // write tag -> block bytes after that write
  let nextTag = 1;
  const place = { accountId: '111111111111', region: 'us-east-1', az: 'us-east-1a', sizeGiB: 1 };
  let vol: Model = { volumeId: sb.createVolume(place).volumeId, tags: new Int32Array(REGION_BLOCKS) };
  const snaps: Array<{ id: string; tags: Int32Array }> = [];

  for (let step = 0; step < STEPS; step++) {
    const op = random();
    if (op < 0.6) {
      const offset = int(REGION_BLOCKS * BLOCK_SIZE - 1);
      const length = 1 + int(Math.min(1.5 * BLOCK_SIZE, REGION_BLOCKS * BLOCK_SIZE - offset));
      const data = Buffer.alloc(length, 1 + int(255));
      data.writeUInt32LE(step, 0); // not all writes alike
      for (let b = Math.floor(offset / BLOCK_SIZE); b * BLOCK_SIZE < offset + length; b++) {
        const block = Buffer.from(contents.get(vol.tags[b] as number) as Buffer);
        const from = Math.max(offset, b * BLOCK_SIZE);
        const to = Math.min(offset + length, (b + 1) * BLOCK_SIZE);
        data.copy(block, from - b * BLOCK_SIZE, from - offset, to - offset);
        contents.set(nextTag, block);
        vol.tags[b] = nextTag++;
      }
      if (random() < 0.5) sb.writeVolume(vol.volumeId, offset, data);
      else await adminWrite(vol.volumeId, offset, data);
    } else if (op < 0.85 || snaps.length === 0) {
      snaps.push({ id: sb.snapshotVolume(vol.volumeId).snapshotId, tags: Int32Array.from(vol.tags) });
    } else {
      const from = snaps[int(snaps.length)] as { id: string; tags: Int32Array };
      vol = {
        volumeId: sb.createVolume({ ...place, snapshotId: from.id }).volumeId,
        tags: Int32Array.from(from.tags),
      };
    }
  }
  await verify(snaps, contents, vol, random);
}

async function verify(
  snaps: Array<{ id: string; tags: Int32Array }>,
  contents: Map<number, Buffer>,
  vol: Model,
  random: () => number,
) {
  const client = ebs(sb);
  expectBytes(
    sb.readVolume(vol.volumeId, 0, REGION_BLOCKS * BLOCK_SIZE),
    Buffer.concat([...vol.tags].map((t) => contents.get(t) as Buffer)),
  );
  for (const s of snaps) {
    for (let b = 0; b < REGION_BLOCKS; b++) {
      const expected = contents.get(s.tags[b] as number) as Buffer;
      const got = sb.ctx.blocks.readSnapshotBlock(s.id, b);
      if (s.tags[b] !== 0) expectBytes(got.data, expected);
      expect(got.checksum).toBe(sha256(expected).toString('base64'));
    }
    const listed = await client.send(new ListSnapshotBlocksCommand({ SnapshotId: s.id, MaxResults: 1000 }));
    const written = [...s.tags.keys()].filter((b) => s.tags[b] !== 0);
    expect(listed.Blocks?.map((x) => x.BlockIndex)).toEqual(written);
    const sample = listed.Blocks?.[Math.floor(random() * (listed.Blocks?.length ?? 0))];
    if (sample) {
      const r = await client.send(
        new GetSnapshotBlockCommand({
          SnapshotId: s.id,
          BlockIndex: sample.BlockIndex,
          BlockToken: sample.BlockToken,
        }),
      );
      expectBytes(
        await collect(r.BlockData),
        contents.get(s.tags[sample.BlockIndex as number] as number) as Buffer,
      );
    }
  }
  // Every pair in time order, and a few backwards (the first snapshot newer than the second).
  type Snap = { id: string; tags: Int32Array };
  const pairs: Array<[Snap, Snap]> = snaps.flatMap((a, i) => snaps.slice(i).map((b): [Snap, Snap] => [a, b]));
  for (let k = 0; k < Math.min(3, snaps.length); k++)
    pairs.push([snaps[snaps.length - 1 - k] as Snap, snaps[k] as Snap]);
  for (const [a, b] of pairs) {
    const expected = [...a.tags.keys()].filter((i) => a.tags[i] !== b.tags[i]);
    const got: Array<[number, boolean, boolean]> = [];
    let token: string | undefined;
    do {
      const page = await client.send(
        new ListChangedBlocksCommand({ FirstSnapshotId: a.id, SecondSnapshotId: b.id, NextToken: token }),
      );
      for (const c of page.ChangedBlocks ?? [])
        got.push([c.BlockIndex as number, !!c.FirstBlockToken, !!c.SecondBlockToken]);
      token = page.NextToken;
    } while (token);
    expect(got).toEqual(expected.map((i) => [i, a.tags[i] !== 0, b.tags[i] !== 0]));
  }
}

describe('snapshots and changed blocks (property)', () => {
  for (const seed of SEEDS) {
    it(`holds for random writes, snapshots and restores (seed ${seed})`, () => run(seed));
  }
});
