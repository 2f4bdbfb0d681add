import { createHash } from 'node:crypto';
import type { InstanceConfiguration } from '@lifeboat/aws';
import { describe, expect, it } from 'vitest';
import { KeyRing, newRingKey } from '../src/secret.js';
import {
  configPiecesOf,
  LIFEBOAT_TAGS_MAX,
  MARKER_TAGS,
  openConfiguration,
  openSeal,
  planSetTags,
  replicaSeal,
  type SnapshotSeal,
  sealConfiguration,
  sealSet,
  sealTags,
  setDigest,
  setReference,
  TAG_KEY_MAX,
  TAG_VALUE_MAX,
  type Tag,
} from '../src/snapshots/seal.js';

const ring = () => {
  const key = newRingKey();
  return new KeyRing([key], key.id);
};

/** Deterministic filler: `n` characters of hex derived from `seed`. */
function filler(seed: string, n: number): string {
  let out = '';
  for (let i = 0; out.length < n; i++) out += createHash('sha256').update(`${seed}/${i}`).digest('hex');
  return out.slice(0, n);
}

const hex17 = (seed: string) => `0${filler(seed, 16)}`;
const snap = (seed: string) => `snap-${hex17(seed)}`;
const KMS = 'arn:aws:kms:eu-central-1:123456789012:key/0f1e2d3c-4b5a-6978-8899-aabbccddeeff';
const DEVICES = ['/dev/xvda', ...'fghijklmnopqrstuvwxyz'.split('').map((c) => `/dev/sd${c}`)];

/** A normal configuration: 10 tags, 2 network interfaces, 2 security groups, `volumes` EBS volumes. */
function configuration(volumes: number, extra: Partial<InstanceConfiguration> = {}): InstanceConfiguration {
  return {
    instanceId: 'i-0123456789abcdef0',
    instanceType: 'm6i.xlarge',
    architecture: 'x86_64',
    bootMode: 'uefi',
    imageBootMode: 'uefi-preferred',
    enaSupport: true,
    imageId: 'ami-0abcdef1234567890',
    keyName: 'ops-2024',
    availabilityZone: 'eu-central-1a',
    tenancy: 'default',
    subnetId: 'subnet-0aaa1111bbbb2222c',
    vpcId: 'vpc-0123abcd4567ef890',
    privateIpAddress: '10.0.1.10',
    networkInterfaces: [
      {
        deviceIndex: 0,
        networkCardIndex: 0,
        networkInterfaceId: 'eni-0111111111111111a',
        subnetId: 'subnet-0aaa1111bbbb2222c',
        privateIpAddresses: ['10.0.1.10'],
        securityGroupIds: ['sg-0aaaaaaaaaaaaaaaa', 'sg-0bbbbbbbbbbbbbbbb'],
        sourceDestCheck: true,
        deleteOnTermination: true,
        interfaceType: 'interface',
        publicIp: { address: '3.120.1.2', elastic: false },
      },
      {
        deviceIndex: 1,
        networkCardIndex: 0,
        networkInterfaceId: 'eni-0222222222222222b',
        subnetId: 'subnet-0ddd3333eeee4444f',
        privateIpAddresses: ['10.0.2.20', '10.0.2.21'],
        securityGroupIds: ['sg-0bbbbbbbbbbbbbbbb'],
        description: 'replication network',
        sourceDestCheck: false,
        deleteOnTermination: false,
        interfaceType: 'interface',
      },
    ],
    securityGroups: [
      { id: 'sg-0aaaaaaaaaaaaaaaa', name: 'web-servers' },
      { id: 'sg-0bbbbbbbbbbbbbbbb', name: 'ssh-from-bastion' },
    ],
    metadataOptions: {
      httpTokens: 'required',
      httpPutResponseHopLimit: 2,
      httpEndpoint: 'enabled',
      instanceMetadataTags: 'disabled',
    },
    iamInstanceProfileArn: 'arn:aws:iam::123456789012:instance-profile/web-servers',
    ebsOptimized: true,
    monitoring: false,
    hibernation: false,
    cpuOptions: { coreCount: 2, threadsPerCore: 2 },
    rootDeviceName: '/dev/xvda',
    blockDevices: Array.from({ length: volumes }, (_, i) => ({
      deviceName: DEVICES[i]!,
      volumeId: `vol-${hex17(`v${i}`)}`,
      volumeType: 'gp3',
      sizeGiB: i === 0 ? 30 : 500,
      iops: 3000,
      throughput: 125,
      deleteOnTermination: i === 0,
      encrypted: true,
      kmsKeyId: KMS,
    })),
    tags: {
      Name: 'web-prod-1',
      env: 'production',
      owner: 'platform-team@example.com',
      'cost-center': 'CC-4711',
      application: 'storefront',
      'backup-policy': 'nightly',
      'aws:cloudformation:stack-name': 'storefront-prod',
      'aws:cloudformation:logical-id': 'WebServer1',
      patch_group: 'linux-prod-wave-2',
      description: 'Front-end web server of the storefront, behind the public ALB',
    },
    ...extra,
  };
}

const POINT = '0b9c7c5e-3f6a-4f0e-9d55-2c1c6f8f9a10';

/** The seals of a set of `n` sources (device order), without their configuration reference. */
function sources(
  n: number,
  point = POINT,
): Array<{ snapshotId: string; seal: Omit<SnapshotSeal, 'config'> }> {
  const ids = Array.from({ length: n }, (_, i) => snap(`${point}/${i}`));
  return ids.map((snapshotId, i) => ({
    snapshotId,
    seal: {
      v: 1,
      point,
      policy: '5d2f0a8e-6b1c-4c3a-9f7e-1a2b3c4d5e6f',
      policyName: 'nightly-production',
      session: '7e6d5c4b-3a29-4817-8f6e-5d4c3b2a1908',
      instance: 'i-0123456789abcdef0',
      awsAccount: '123456789012',
      region: 'eu-central-1',
      at: '2025-03-04T01:00:00.000Z',
      device: DEVICES[i]!,
      volume: `vol-${hex17(`v${i}`)}`,
      sizeGiB: i === 0 ? 30 : 500,
      role: 'source',
      source: null,
      set: setReference(ids),
    },
  }));
}

function checkLimits(tags: Map<string, Tag[]>): void {
  for (const list of tags.values()) {
    expect(MARKER_TAGS + list.length).toBeLessThanOrEqual(LIFEBOAT_TAGS_MAX);
    for (const t of list) {
      expect(t.Key.length).toBeLessThanOrEqual(TAG_KEY_MAX);
      expect(t.Value.length).toBeLessThanOrEqual(TAG_VALUE_MAX);
      expect(t.Value.length).toBeGreaterThan(0);
      expect(t.Key.startsWith('aws:')).toBe(false);
    }
    expect(new Set(list.map((t) => t.Key)).size).toBe(list.length);
  }
}

/** A source's tags as its replica carries them: the replica's own seal, the source's configuration slices. */
function replicaTags(
  box: KeyRing,
  replicaId: string,
  sourceId: string,
  seal: SnapshotSeal,
  tags: Tag[],
): Tag[] {
  return sealTags(box, replicaId, replicaSeal(seal, sourceId), configPiecesOf(tags));
}

describe('snapshot seals', () => {
  it('round trip: every snapshot of a set opens to its seal, and the set to its configuration', () => {
    const box = ring();
    const config = configuration(2);
    const set = sealSet(box, { pointId: POINT, configuration: config, snapshots: sources(2) });
    expect(set.configuration!.overflow).toBe(false);
    expect(set.configuration!.dropped).toEqual([]);
    for (const { snapshotId, seal } of set.seals) {
      const tags = set.tags.get(snapshotId)!;
      expect(tags[0]!.Key).toBe('lifeboat:seal');
      expect(tags[0]!.Value).toMatch(new RegExp(`^lb1:${box.currentId}:`));
      expect(openSeal(box, snapshotId, tags)).toEqual({ seal });
      // As a record too (what a caller keeps of DescribeSnapshots' tags), with other tags about.
      const record = Object.fromEntries([
        ...tags.map((t) => [t.Key, t.Value]),
        ['Name', 'mine'],
        ['lifeboat', 'v1'],
      ]);
      expect(openSeal(box, snapshotId, record)).toEqual({ seal });
      expect(seal.config).toEqual({
        pieces: set.configuration!.pieces.length,
        digest: set.configuration!.digest,
        overflow: false,
      });
    }
    const all = [...set.tags.values()];
    expect(openConfiguration(box, POINT, set.seals[1]!.seal, all)).toEqual({
      configuration: config,
      overflow: false,
    });
  });

  it('refuses a seal copied onto another snapshot, and another point’s configuration slices', () => {
    const box = ring();
    const set = sealSet(box, { pointId: POINT, configuration: configuration(2), snapshots: sources(2) });
    const [a, b] = set.seals;
    expect(openSeal(box, b!.snapshotId, set.tags.get(a!.snapshotId)!)).toEqual({ refused: 'forged' });
    expect(openSeal(box, snap('elsewhere'), set.tags.get(a!.snapshotId)!)).toEqual({ refused: 'forged' });
    // The whole set's tags re-sealed as another point: its slices do not open for this point.
    const other = '11111111-2222-4333-8444-555555555555';
    const copy = sealSet(box, {
      pointId: other,
      configuration: configuration(2),
      snapshots: sources(2, other),
    });
    const seal = { ...a!.seal, config: copy.seals[0]!.seal.config };
    expect(openConfiguration(box, POINT, seal, [...copy.tags.values()])).toEqual({ refused: 'forged' });
  });

  it('refuses a seal or a slice with a flipped bit', () => {
    const box = ring();
    const set = sealSet(box, { pointId: POINT, configuration: configuration(1), snapshots: sources(1) });
    const { snapshotId, seal } = set.seals[0]!;
    const tags = set.tags.get(snapshotId)!;
    const flip = (s: string, at: number) => s.slice(0, at) + (s[at] === 'A' ? 'B' : 'A') + s.slice(at + 1);
    for (const at of [14, 60, 200, tags[0]!.Value.length - 1]) {
      const bad = tags.map((t) => (t.Key === 'lifeboat:seal' ? { ...t, Value: flip(t.Value, at) } : t));
      expect(openSeal(box, snapshotId, bad)).toEqual({ refused: 'forged' });
    }
    // Flipped in the continuation tag, or the continuation lost.
    expect(tags.some((t) => t.Key === 'lifeboat:seal:1')).toBe(true);
    const cont = tags.map((t) => (t.Key === 'lifeboat:seal:1' ? { ...t, Value: flip(t.Value, 10) } : t));
    expect(openSeal(box, snapshotId, cont)).toEqual({ refused: 'forged' });
    expect(
      openSeal(
        box,
        snapshotId,
        tags.filter((t) => t.Key !== 'lifeboat:seal:1'),
      ),
    ).toEqual({ refused: 'forged' });
    // A configuration slice altered: it no longer matches the seal's digest.
    const slice = tags.find((t) => t.Key === 'lifeboat:cfg:1')!;
    const bad = tags.map((t) => (t === slice ? { ...t, Value: flip(t.Value, 5) } : t));
    expect(openConfiguration(box, POINT, seal, [bad])).toEqual({ refused: 'forged' });
    // …but a good copy of it elsewhere in the set (its replica) still serves.
    expect(openConfiguration(box, POINT, seal, [bad, tags])).toMatchObject({ overflow: false });
  });

  it("names another appliance's seal unknown-key; a rotated ring still opens older seals", () => {
    const box = ring();
    const set = sealSet(box, { pointId: POINT, configuration: configuration(1), snapshots: sources(1) });
    const { snapshotId, seal } = set.seals[0]!;
    const tags = set.tags.get(snapshotId)!;
    expect(openSeal(ring(), snapshotId, tags)).toEqual({ refused: 'unknown-key' });

    const rotated = box.rotated();
    expect(openSeal(rotated, snapshotId, tags)).toEqual({ seal });
    expect(openConfiguration(rotated, POINT, seal, [tags])).toMatchObject({
      configuration: configuration(1),
    });
    // What the rotated ring seals, the ring before it does not know.
    const newer = sealTags(rotated, snapshotId, seal, configPiecesOf(tags));
    expect(newer[0]!.Value).toMatch(new RegExp(`^lb1:${rotated.currentId}:`));
    expect(openSeal(rotated, snapshotId, newer)).toEqual({ seal });
    expect(openSeal(box, snapshotId, newer)).toEqual({ refused: 'unknown-key' });
    // A box that does not show its keys: told apart by how open() failed.
    const opaque = { seal: box.seal.bind(box), open: box.open.bind(box) };
    expect(openSeal(opaque, snapshotId, tags)).toEqual({ seal });
    expect(openSeal(opaque, snapshotId, newer)).toEqual({ refused: 'unknown-key' });
    expect(openSeal(opaque, snap('other'), tags)).toEqual({ refused: 'forged' });
  });

  it('a ring restored from the same secret (same key id) opens seals and configuration', () => {
    const key = newRingKey();
    const box = new KeyRing([key], key.id);
    const set = sealSet(box, { pointId: POINT, configuration: configuration(3), snapshots: sources(3) });
    const restored = new KeyRing([newRingKey(Buffer.from(key.secret), '2030-01-01T00:00:00.000Z')], key.id);
    for (const { snapshotId, seal } of set.seals) {
      expect(openSeal(restored, snapshotId, set.tags.get(snapshotId)!)).toEqual({ seal });
    }
    expect(openConfiguration(restored, POINT, set.seals[2]!.seal, [...set.tags.values()])).toEqual({
      configuration: configuration(3),
      overflow: false,
    });
  });

  it('tells unsealed, malformed and garbage apart, and never throws', () => {
    const box = ring();
    const id = snap('x');
    expect(openSeal(box, id, [])).toEqual({ refused: 'unsealed' });
    expect(openSeal(box, id, { lifeboat: 'v1', Name: 'x' })).toEqual({ refused: 'unsealed' });
    expect(openSeal(box, id, [{ Key: 'lifeboat:seal' }])).toEqual({ refused: 'forged' });
    expect(openSeal(box, id, { 'lifeboat:seal': 'hello' })).toEqual({ refused: 'forged' });
    expect(openSeal(box, id, { 'lifeboat:seal': `lb1:${box.currentId}:short` })).toEqual({
      refused: 'forged',
    });
    for (const junk of [null, undefined, 42, 'tags', [null, 1, 'x', { Key: 3 }]]) {
      expect(openSeal(box, id, junk as never)).toEqual({ refused: 'unsealed' });
    }
    // Authentic, but not a v1 seal: another version, wrong types, a replica without its source, an unknown codec.
    const valid = sealSet(box, { pointId: POINT, configuration: null, snapshots: sources(1) }).seals[0]!.seal;
    const packed = (o: unknown, codec = 0) =>
      Buffer.concat([Buffer.from([codec]), Buffer.from(JSON.stringify(o))]);
    for (const [o, codec] of [
      [{ ...valid, v: 2 }, 0],
      [{ ...valid, sizeGiB: '30' }, 0],
      [{ ...valid, role: 'replica' }, 0],
      [{ ...valid, set: [] }, 0],
      [{ ...valid, set: { count: 3, digest: 'nothex' } }, 0],
      [{ ...valid, config: { pieces: 1 } }, 0],
      [{ ...valid, at: 'yesterday' }, 0],
      ['a string', 0],
      [valid, 7],
      [valid, 1], // says deflateRaw, is not
    ] as Array<[unknown, number]>) {
      const sealed = box.seal(`snapshot-seal/${id}`, packed(o, codec));
      expect(openSeal(box, id, { 'lifeboat:seal': sealed })).toEqual({ refused: 'malformed' });
    }
    // Fields it does not know (a later writer's) are ignored.
    const later = box.seal(`snapshot-seal/${id}`, packed({ ...valid, later: { x: 1 } }));
    expect(openSeal(box, id, { 'lifeboat:seal': later })).toEqual({ seal: valid });
    // A configuration that opens but is not one.
    const cfg = box.seal(`snapshot-config/${POINT}`, packed([1, 2]));
    const seal = { ...valid, config: { pieces: 1, digest: sha16(cfg), overflow: false } };
    expect(openConfiguration(box, POINT, seal, [{ 'lifeboat:cfg:0': cfg }])).toEqual({
      refused: 'malformed',
    });
    expect(openConfiguration(box, POINT, valid, [])).toEqual({ refused: 'absent' });
    // sealTags refuses to write what openSeal would refuse.
    expect(() => sealTags(box, id, { ...valid, role: 'replica' })).toThrow(/not a valid v1 snapshot seal/);
  });

  it('a 1-volume instance with a normal configuration fits without overflow; tag counts for 1, 2, 8, 20 volumes', () => {
    const box = ring();
    const counts: Record<number, { seal: number; pieces: number; perSnapshot: number[]; json: number }> = {};
    for (const n of [1, 2, 8, 20]) {
      const config = configuration(n);
      const set = sealSet(box, { pointId: POINT, configuration: config, snapshots: sources(n) });
      expect(set.configuration!.overflow).toBe(false);
      checkLimits(set.tags);
      const sealTagsOf = (tags: Tag[]) => tags.filter((t) => t.Key.startsWith('lifeboat:seal')).length;
      counts[n] = {
        json: JSON.stringify(config).length,
        seal: Math.max(...[...set.tags.values()].map(sealTagsOf)),
        pieces: set.configuration!.pieces.length,
        perSnapshot: [...set.tags.values()].map((t) => MARKER_TAGS + t.length),
      };
      // The replicas (own seal naming their source, the same slices) stay within the budget too.
      const replicas = new Map(
        set.seals.map(({ snapshotId, seal }) => {
          const id = snap(`replica/${snapshotId}`);
          return [id, replicaTags(box, id, snapshotId, seal, set.tags.get(snapshotId)!)];
        }),
      );
      checkLimits(replicas);
      const opened = openSeal(box, [...replicas.keys()][0]!, [...replicas.values()][0]!);
      expect(opened).toEqual({ seal: replicaSeal(set.seals[0]!.seal, set.seals[0]!.snapshotId) });
      expect(openConfiguration(box, POINT, set.seals[0]!.seal, [...replicas.values()])).toEqual({
        configuration: config,
        overflow: false,
      });
    }
    console.log('lifeboat tags per snapshot (markers + seal + slices):', JSON.stringify(counts));
    expect(counts[1]!.perSnapshot[0]).toBeLessThanOrEqual(20);
  });

  it('large configurations overflow deterministically and say so', () => {
    const box = ring();
    const tags: Record<string, string> = { Name: 'big-1' };
    for (let i = 0; i < 49; i++) tags[`team:${filler(`k${i}`, 100)}`] = filler(`v${i}`, 20 + i * 4);
    const big = configuration(1, { tags });
    const a = sealConfiguration(box, POINT, big);
    const b = sealConfiguration(box, POINT, big);
    expect(a.overflow).toBe(true);
    expect(a.dropped.length).toBeGreaterThan(0);
    expect(a.dropped).toEqual(b.dropped);
    expect(a.pieces.length).toBe(b.pieces.length);
    expect(a.dropped.every((d) => d.startsWith('tags.'))).toBe(true);
    // The longest values went first, Name stays.
    const longest = Object.keys(tags).sort((x, y) => tags[y]!.length - tags[x]!.length)[0]!;
    expect(a.dropped[0]).toBe(`tags.${longest}`);
    expect(a.dropped).not.toContain('tags.Name');

    // As a set of one: the seal says overflow, the configuration opens without what was dropped.
    const set = sealSet(box, { pointId: POINT, configuration: big, snapshots: sources(1) });
    checkLimits(set.tags);
    const seal = set.seals[0]!.seal;
    expect(seal.config!.overflow).toBe(true);
    const opened = openConfiguration(box, POINT, seal, [...set.tags.values()]);
    if (!('configuration' in opened)) throw new Error(opened.refused);
    expect(opened.overflow).toBe(true);
    const kept = Object.keys(opened.configuration.tags!);
    expect(kept.length + set.configuration!.dropped.length).toBe(50);
    expect(opened.configuration).toEqual({
      ...big,
      tags: Object.fromEntries(kept.map((k) => [k, tags[k]!])),
    });
    // Spread over 8 snapshots, the same configuration fits whole.
    const eight = sealSet(box, {
      pointId: POINT,
      configuration: configuration(8, { tags }),
      snapshots: sources(8),
    });
    expect(eight.configuration!.overflow).toBe(false);
    checkLimits(eight.tags);

    // Beyond tags, facts a restore can do without go next, always in the same order (a prefix of it), and
    // each budget gives the same result twice.
    const order = [
      'networkInterfaces.description',
      'securityGroups.name',
      'networkInterfaces.secondaryPrivateIpAddresses',
      'networkInterfaces.ipv6Addresses',
      'blockDevices.kmsKeyId',
      'blockDevices.volumeId',
      'networkInterfaces.networkInterfaceId',
    ];
    const busy = configuration(2, {
      tags: { Name: 'eks-node-1' },
      networkInterfaces: Array.from({ length: 4 }, (_, n) => ({
        deviceIndex: n,
        networkInterfaceId: `eni-${hex17(`eni${n}`)}`,
        subnetId: 'subnet-0aaa1111bbbb2222c',
        privateIpAddresses: Array.from(
          { length: 30 },
          (_, i) => `10.${n}.${i}.${parseInt(filler(`ip${n}/${i}`, 2), 16)}`,
        ),
        ipv6Addresses: [`2a05:d014::${n}`],
        securityGroupIds: ['sg-0aaaaaaaaaaaaaaaa'],
        description: `aws-K8S-${filler(`d${n}`, 120)}`,
      })),
    });
    const reductions = new Set<string>();
    for (let maxPieces = 1; maxPieces <= 20; maxPieces++) {
      const r = sealConfiguration(box, POINT, busy, { maxPieces });
      expect(sealConfiguration(box, POINT, busy, { maxPieces }).dropped).toEqual(r.dropped);
      const rest = r.dropped.filter((d) => !d.startsWith('tags.') && d !== '*');
      expect(rest).toEqual(order.slice(0, rest.length));
      if (rest.length > 0) expect(r.dropped.slice(0, 1)).toEqual(['tags.Name']);
      if (r.dropped.at(-1) !== '*') {
        expect(r.pieces.length).toBeLessThanOrEqual(maxPieces);
        expect(r.overflow).toBe(r.dropped.length > 0);
        reductions.add(rest.join());
      }
    }
    // Some budget kept part of them: descriptions and secondary addresses went, interface ids stayed.
    expect(
      [...reductions].some((r) => r.includes('secondaryPrivateIpAddresses') && !r.includes('interfaceId')),
    ).toBe(true);
    const none = sealConfiguration(box, POINT, big, { maxPieces: 0 });
    expect(none).toMatchObject({ pieces: [], digest: '', overflow: true });
    expect(none.dropped.at(-1)).toBe('*');
    const nothing = sealSet(box, { pointId: POINT, configuration: null, snapshots: sources(2) });
    expect(nothing.seals[0]!.seal.config).toBeNull();
    expect(openConfiguration(box, POINT, nothing.seals[0]!.seal, [...nothing.tags.values()])).toEqual({
      refused: 'absent',
    });
  });

  it('config slices spread evenly over 1, 2 and 8 snapshots reassemble; a missing slice is missing-pieces', () => {
    const box = ring();
    for (const n of [1, 2, 8]) {
      const config = configuration(n, { tags: { Name: 'x', notes: filler(`notes${n}`, 250) } });
      const sealed = sealConfiguration(box, POINT, config, { maxPieces: 30 });
      expect(sealed.overflow).toBe(false);
      expect(sealed.pieces.length).toBeGreaterThan(2);
      const seals = sources(n).map((s) => ({
        snapshotId: s.snapshotId,
        seal: { ...s.seal, config: { pieces: sealed.pieces.length, digest: sealed.digest, overflow: false } },
      }));
      const tags = planSetTags(box, seals, sealed.pieces);
      checkLimits(tags);
      const share = [...tags.values()].map((t) => configPiecesOf(t).length);
      expect(Math.max(...share) - Math.min(...share)).toBeLessThanOrEqual(1);
      expect(share.reduce((x, y) => x + y, 0)).toBe(sealed.pieces.length);
      const lists = [...tags.values()];
      for (const order of [lists, [...lists].reverse()]) {
        expect(openConfiguration(box, POINT, seals[0]!.seal, order)).toEqual({
          configuration: config,
          overflow: false,
        });
      }
      // One snapshot of the set missing (n > 1), or one slice removed: missing-pieces.
      if (n > 1) {
        expect(openConfiguration(box, POINT, seals[0]!.seal, lists.slice(1))).toEqual({
          refused: 'missing-pieces',
        });
      }
      const cut = lists.map((l) => l.filter((t) => t.Key !== 'lifeboat:cfg:1'));
      expect(openConfiguration(box, POINT, seals[0]!.seal, cut)).toEqual({ refused: 'missing-pieces' });
    }
  });

  it('names a large set by count and digest', () => {
    const ids = Array.from({ length: 12 }, (_, i) => snap(`big/${i}`));
    expect(setReference(ids.slice(0, 8))).toEqual(ids.slice(0, 8));
    expect(setReference(ids)).toEqual({ count: 12, digest: setDigest(ids) });
    expect(setDigest(ids)).toMatch(/^[0-9a-f]{16}$/);
    expect(setDigest([...ids].reverse())).not.toBe(setDigest(ids));
    const box = ring();
    const set = sealSet(box, { pointId: POINT, configuration: configuration(12), snapshots: sources(12) });
    checkLimits(set.tags);
    const opened = openSeal(box, set.seals[5]!.snapshotId, set.tags.get(set.seals[5]!.snapshotId)!);
    expect(opened).toEqual({
      seal: expect.objectContaining({ set: { count: 12, digest: expect.any(String) } }),
    });
  });
});

function sha16(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 16);
}
