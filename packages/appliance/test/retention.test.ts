import type {
  HoldKind,
  HoldRecord,
  PointSnapshotRecord,
  PointSnapshotState,
  RestorePointRecord,
  RestorePointState,
} from '@lifeboat/catalog';
import { describe, expect, it } from 'vitest';
import {
  decideRetention,
  type PointState,
  type RetentionDecision,
  type RetentionRules,
  retentionOf,
} from '../src/snapshots/retention.js';

const DAY = 86_400_000;
const NOW = Date.parse('2026-03-01T12:00:00.000Z');
const ago = (days: number, extraMs = 0): string => new Date(NOW - days * DAY - extraMs).toISOString();

const EU = 'backup/eu-west-1';
const US = 'backup/us-west-2';

function pointRecord(
  id: string,
  createdAt: string,
  state: RestorePointState = 'available',
): RestorePointRecord {
  return {
    id,
    policyId: 'pol-1',
    policyName: 'prod-daily',
    accountId: 'acc-prod',
    awsAccountId: '111111111111',
    region: 'us-east-1',
    instanceId: 'i-0123456789abcdef0',
    sessionId: `ses-${id}`,
    taskId: `task-${id}`,
    createdAt,
    state,
    configuration: null,
    overflow: null,
    updatedAt: createdAt,
  };
}

function source(
  pointId: string,
  device: string,
  state: PointSnapshotState = 'completed',
): PointSnapshotRecord {
  return {
    snapshotId: `${pointId}:src:${device}`,
    pointId,
    role: 'source',
    accountId: 'acc-prod',
    awsAccountId: '111111111111',
    region: 'us-east-1',
    device,
    volumeId: `vol-${pointId}-${device}`,
    sizeGiB: 8,
    encrypted: true,
    kmsKeyId: 'alias/prod',
    state,
    sealed: true,
    sourceSnapshotId: null,
    target: null,
    createdAt: '2026-01-01T00:00:00.000Z',
    deletedAt: state === 'deleted' ? '2026-01-02T00:00:00.000Z' : null,
  };
}

function replica(
  pointId: string,
  target: string,
  state: PointSnapshotState = 'completed',
): PointSnapshotRecord {
  const [account, region] = target.split('/') as [string, string];
  return {
    ...source(pointId, '/dev/xvda', state),
    snapshotId: `${pointId}:rep:${target}`,
    role: 'replica',
    accountId: `acc-${account}`,
    awsAccountId: '222222222222',
    region,
    sourceSnapshotId: `${pointId}:src:/dev/xvda`,
    target,
  };
}

function hold(pointId: string, kind: HoldKind, reason: string): HoldRecord {
  return {
    id: `hold-${pointId}-${kind}`,
    pointId,
    kind,
    reason,
    createdBy: kind === 'manual' ? 'alice' : null,
    createdAt: '2026-02-01T00:00:00.000Z',
  };
}

interface PointOptions {
  state?: RestorePointState;
  /** Source snapshot states by device; default two completed volumes. */
  sources?: Record<string, PointSnapshotState>;
  /** Replica snapshot states by target; default none. */
  replicas?: Record<string, PointSnapshotState>;
  holds?: Array<[HoldKind, string]>;
}

function ps(id: string, createdAt: string, o: PointOptions = {}): PointState {
  const sources = o.sources ?? { '/dev/xvda': 'completed', '/dev/sdf': 'completed' };
  return {
    point: pointRecord(id, createdAt, o.state),
    snapshots: [
      ...Object.entries(sources).map(([device, state]) => source(id, device, state)),
      ...Object.entries(o.replicas ?? {}).map(([target, state]) => replica(id, target, state)),
    ],
    holds: (o.holds ?? []).map(([kind, reason]) => hold(id, kind, reason)),
  };
}

const rules = (keep: number, keepDays = 0, replicas: Record<string, number> = {}): RetentionRules => ({
  keep,
  keepDays,
  replicas,
});

/** The deleted snapshot ids, in decision order. */
const deletedIds = (d: RetentionDecision): string[] => d.delete.map((x) => x.snapshot.snapshotId);
/** The kept entries as `point layer: reason`. */
const keptText = (d: RetentionDecision): string[] =>
  d.kept.map((k) => `${k.point.id} ${k.layer}: ${k.reason}`);
const both = (id: string): string[] => [`${id}:src:/dev/xvda`, `${id}:src:/dev/sdf`];

describe('decideRetention: keep by count', () => {
  it('decides nothing for no points', () => {
    expect(decideRetention([], rules(1), NOW, false)).toEqual({ delete: [], kept: [] });
    expect(decideRetention([], rules(1), NOW, true)).toEqual({ delete: [], kept: [] });
  });

  it('keeps the `keep` newest and deletes every source of the older ones, whatever the input order', () => {
    const pts = [ps('p3', ago(3)), ps('p1', ago(1)), ps('p5', ago(5)), ps('p2', ago(2)), ps('p4', ago(4))];
    const d = decideRetention(pts, rules(3), NOW, false);
    expect(deletedIds(d)).toEqual([...both('p4'), ...both('p5')]);
    expect(d.delete.map((x) => x.reason)).toEqual([
      'beyond keep 3',
      'beyond keep 3',
      'beyond keep 3',
      'beyond keep 3',
    ]);
    expect(d.delete.map((x) => x.point.id)).toEqual(['p4', 'p4', 'p5', 'p5']);
    expect(d.delete[0]!.point).toBe(pts[4]!.point);
    expect(d.delete[0]!.snapshot).toBe(pts[4]!.snapshots[0]);
    expect(d.kept).toEqual([]);
    expect(decideRetention([...pts].reverse(), rules(3), NOW, false)).toEqual(d);
  });

  it('deletes nothing while there are at most `keep` points', () => {
    const pts = [ps('p1', ago(1)), ps('p2', ago(200))];
    expect(decideRetention(pts, rules(2), NOW, false)).toEqual({ delete: [], kept: [] });
  });

  it('orders points made at the same instant by id (the greater id counts as newer)', () => {
    const at = ago(1);
    const pts = [ps('p-b', at), ps('p-a', at), ps('p-c', at)];
    expect(deletedIds(decideRetention(pts, rules(2), NOW, false))).toEqual(both('p-a'));
    expect(deletedIds(decideRetention([...pts].reverse(), rules(1), NOW, false))).toEqual([
      ...both('p-b'),
      ...both('p-a'),
    ]);
  });

  it('deletes only the sources still alive of a point', () => {
    const pts = [
      ps('p1', ago(1)),
      ps('p2', ago(2), { sources: { '/dev/xvda': 'deleted', '/dev/sdf': 'error' } }),
    ];
    const d = decideRetention(pts, rules(1), NOW, false);
    expect(deletedIds(d)).toEqual(['p2:src:/dev/sdf']);
  });
});

describe('decideRetention: keepDays (either rule keeps)', () => {
  const pts = [ps('d1', ago(1)), ps('d3', ago(3)), ps('d5', ago(5)), ps('d8', ago(8)), ps('d10', ago(10))];

  it('keeps a point younger than keepDays beyond the count', () => {
    const d = decideRetention(pts, rules(2, 7), NOW, false);
    expect(deletedIds(d)).toEqual([...both('d8'), ...both('d10')]);
    expect(new Set(d.delete.map((x) => x.reason))).toEqual(new Set(['beyond keep 2 and older than 7 days']));
    expect(d.kept).toEqual([]);
  });

  it('keeps a point among the `keep` newest however old it is', () => {
    const d = decideRetention(pts, rules(4, 2), NOW, false);
    expect(deletedIds(d)).toEqual(both('d10'));
    expect(d.delete[0]!.reason).toBe('beyond keep 4 and older than 2 days');
  });

  it('keeps a point exactly keepDays old, and deletes one a millisecond older', () => {
    const edge = [ps('new', ago(0)), ps('edge', ago(7)), ps('older', ago(7, 1))];
    expect(deletedIds(decideRetention(edge, rules(1, 7), NOW, false))).toEqual(both('older'));
  });

  it('keepDays 0 keeps by count alone', () => {
    expect(deletedIds(decideRetention(pts, rules(4, 0), NOW, false))).toEqual(both('d10'));
  });
});

describe('decideRetention: holds', () => {
  it('keeps a held point beyond keep, names the hold, and deletes none of its snapshots', () => {
    const pts = [
      ps('p1', ago(1)),
      ps('p2', ago(2), { holds: [['manual', 'legal case 42']], replicas: { [EU]: 'completed' } }),
      ps('p3', ago(3), {
        holds: [
          ['restore', 'restore job j-7'],
          ['backup-base', ''],
        ],
      }),
      ps('p4', ago(4)),
    ];
    const d = decideRetention(pts, rules(1, 0, { [EU]: 5 }), NOW, false);
    expect(deletedIds(d)).toEqual(both('p4'));
    expect(d.kept).toEqual([
      { point: pts[1]!.point, layer: 'snapshots', reason: 'held: manual (legal case 42)' },
      { point: pts[2]!.point, layer: 'snapshots', reason: 'held: restore (restore job j-7), backup-base' },
    ]);
  });

  it('counts a held point toward keep, and lists a held point within keep nowhere', () => {
    const pts = [ps('p1', ago(1), { holds: [['manual', 'x']] }), ps('p2', ago(2))];
    const d = decideRetention(pts, rules(1), NOW, false);
    expect(deletedIds(d)).toEqual(both('p2'));
    expect(d.kept).toEqual([]);
  });

  it('keeps a held replica beyond its target keep, naming the replica layer', () => {
    const pts = [
      ps('p1', ago(1), { replicas: { [EU]: 'completed' } }),
      ps('p2', ago(2), {
        replicas: { [EU]: 'completed' },
        holds: [['backup-base', 'base of the next backup']],
      }),
      ps('p3', ago(3), { replicas: { [EU]: 'completed' } }),
    ];
    const d = decideRetention(pts, rules(10, 0, { [EU]: 1 }), NOW, false);
    expect(deletedIds(d)).toEqual([`p3:rep:${EU}`]);
    expect(keptText(d)).toEqual([`p2 replica ${EU}: held: backup-base (base of the next backup)`]);
  });
});

describe('decideRetention: points being made, points without sources', () => {
  it('never touches nor counts a point in state creating', () => {
    const pts = [
      ps('new', ago(0), { state: 'creating', replicas: { [EU]: 'pending' } }),
      ps('p1', ago(1), { replicas: { [EU]: 'completed' } }),
      ps('p2', ago(2), { replicas: { [EU]: 'completed' } }),
      ps('p3', ago(3), { replicas: { [EU]: 'completed' } }),
      ps('stale', ago(30), { state: 'creating', replicas: { [EU]: 'completed' } }),
    ];
    const d = decideRetention(pts, rules(2, 0, { [EU]: 2 }), NOW, true);
    expect(deletedIds(d)).toEqual([...both('p3'), `p3:rep:${EU}`]);
    expect(d.kept).toEqual([]);
    // Only points in state creating: nothing at all.
    expect(decideRetention([pts[0]!, pts[4]!], rules(1, 0, { [EU]: 1 }), NOW, true)).toEqual({
      delete: [],
      kept: [],
    });
  });

  it('does not count a point whose sources are all deleted toward keep', () => {
    const pts = [
      ps('p0', ago(0), { sources: { '/dev/xvda': 'deleted', '/dev/sdf': 'deleted' } }),
      ps('p1', ago(1)),
      ps('p2', ago(2)),
      ps('p3', ago(3)),
    ];
    const d = decideRetention(pts, rules(2), NOW, false);
    expect(deletedIds(d)).toEqual(both('p3'));
    expect(d.kept).toEqual([]);
  });

  it('does not count a failed point (every source in error) toward keep, and cleans it up beyond keep', () => {
    const err = { '/dev/xvda': 'error', '/dev/sdf': 'error' } as const;
    const pts = [
      ps('f0', ago(0), { state: 'failed', sources: err }),
      ps('p1', ago(1)),
      ps('f1', ago(1.5), { state: 'failed', sources: err }),
      ps('p2', ago(2)),
      ps('p3', ago(3)),
    ];
    // keep 2: p1 and p2 are the two restore points kept; f0 has no newer restore point, f1 has one.
    expect(deletedIds(decideRetention(pts, rules(2), NOW, false))).toEqual(both('p3'));
    // keep 1: only p1; the failed point behind it goes with the older ones.
    expect(deletedIds(decideRetention(pts, rules(1), NOW, false))).toEqual([
      ...both('f1'),
      ...both('p2'),
      ...both('p3'),
    ]);
  });

  it('counts a partial point (one source completed, one in error)', () => {
    const pts = [
      ps('p0', ago(0), { state: 'partial', sources: { '/dev/xvda': 'error', '/dev/sdf': 'completed' } }),
      ps('p1', ago(1)),
      ps('p2', ago(2)),
    ];
    expect(deletedIds(decideRetention(pts, rules(2), NOW, false))).toEqual(both('p2'));
  });

  it('counts a point with one source still alive', () => {
    const pts = [
      ps('p0', ago(0), { sources: { '/dev/xvda': 'deleted', '/dev/sdf': 'completed' } }),
      ps('p1', ago(1)),
      ps('p2', ago(2)),
    ];
    expect(deletedIds(decideRetention(pts, rules(2), NOW, false))).toEqual(both('p2'));
  });
});

describe('decideRetention: an instance gone', () => {
  it('keeps its points under the same rules as a present one', () => {
    const pts = [ps('p1', ago(1)), ps('p2', ago(2)), ps('p3', ago(10))];
    expect(decideRetention(pts, rules(1, 5), NOW, true)).toEqual(
      decideRetention(pts, rules(1, 5), NOW, false),
    );
    expect(deletedIds(decideRetention(pts, rules(1, 5), NOW, true))).toEqual(both('p3'));
  });

  it('never deletes its last restore point, with a held newer point and keep 1', () => {
    const pts = [
      ps('p1', ago(1), { holds: [['manual', 'keep me']] }),
      ps('p2', ago(2)),
      ps('p3', ago(3), { holds: [['restore', 'restore job j-1']] }),
      ps('p4', ago(4)),
    ];
    const d = decideRetention(pts, rules(1), NOW, true);
    // The newest point (the last one of the instance) stays by count; none of its snapshots is deleted.
    expect(d.delete.filter((x) => x.point.id === 'p1')).toEqual([]);
    expect(deletedIds(d)).toEqual([...both('p2'), ...both('p4')]);
    expect(keptText(d)).toEqual(['p3 snapshots: held: restore (restore job j-1)']);
  });

  it('never deletes its last restore point when a newer one failed (every source in error)', () => {
    const pts = [
      ps('failed', ago(0), { state: 'failed', sources: { '/dev/xvda': 'error', '/dev/sdf': 'error' } }),
      ps('p1', ago(1)),
      ps('p2', ago(2)),
    ];
    const d = decideRetention(pts, rules(1), NOW, true);
    expect(deletedIds(d)).toEqual(both('p2'));
    expect(d.kept).toEqual([]);
  });

  it('keeps its only point', () => {
    const pts = [ps('p1', ago(400), { replicas: { [EU]: 'completed' } })];
    expect(decideRetention(pts, rules(1, 1, { [EU]: 1 }), NOW, true)).toEqual({ delete: [], kept: [] });
  });

  it('keeps the newest point with sources when the newer one lost them', () => {
    const pts = [
      ps('p0', ago(0), { sources: { '/dev/xvda': 'deleted' }, replicas: { [EU]: 'completed' } }),
      ps('p1', ago(1)),
      ps('p2', ago(2)),
    ];
    const d = decideRetention(pts, rules(1, 0, { [EU]: 1 }), NOW, true);
    expect(deletedIds(d)).toEqual(both('p2'));
  });

  it('the guard itself: with keep 0 (refused by validation) the newest point and replica of a gone instance stay', () => {
    const pts = [
      ps('p1', ago(1), { replicas: { [EU]: 'completed' } }),
      ps('p2', ago(2), { replicas: { [EU]: 'completed' } }),
    ];
    const gone = decideRetention(pts, rules(0, 0, { [EU]: 0 }), NOW, true);
    expect(deletedIds(gone)).toEqual([...both('p2'), `p2:rep:${EU}`]);
    expect(keptText(gone)).toEqual([
      'p1 snapshots: the last restore point of a gone instance',
      `p1 replica ${EU}: the last replica of a gone instance`,
    ]);
    const present = decideRetention(pts, rules(0, 0, { [EU]: 0 }), NOW, false);
    expect(deletedIds(present)).toEqual([...both('p1'), ...both('p2'), `p1:rep:${EU}`, `p2:rep:${EU}`]);
    expect(present.kept).toEqual([]);
  });
});

describe('decideRetention: replicas', () => {
  it('keeps the `keep` newest replicas per target, and leaves targets not in the rules alone', () => {
    const all = { [EU]: 'completed', [US]: 'completed', 'other/ap-south-1': 'completed' } as const;
    const pts = [
      ps('p1', ago(1), { replicas: all }),
      ps('p2', ago(2), { replicas: { [EU]: 'completed', [US]: 'deleted', 'other/ap-south-1': 'completed' } }),
      ps('p3', ago(3), { replicas: all }),
      ps('p4', ago(4), { replicas: all }),
    ];
    const d = decideRetention(pts, rules(10, 0, { [EU]: 2, [US]: 2 }), NOW, false);
    // EU: p1, p2 kept; US: p2's replica is already deleted, so p1 and p3 are the 2 newest.
    expect(deletedIds(d)).toEqual([`p3:rep:${EU}`, `p4:rep:${EU}`, `p4:rep:${US}`]);
    expect(d.delete.map((x) => x.reason)).toEqual([
      `replica beyond keep 2 in ${EU}`,
      `replica beyond keep 2 in ${EU}`,
      `replica beyond keep 2 in ${US}`,
    ]);
    expect(d.delete.every((x) => x.snapshot.role === 'replica')).toBe(true);
    expect(d.kept).toEqual([]);
  });

  it('counts only the points that have a usable replica in the target (not one in error)', () => {
    const pts = [
      ps('p1', ago(1)),
      ps('p2', ago(2), { replicas: { [EU]: 'completed' } }),
      ps('p3', ago(3), { replicas: { [EU]: 'error' } }),
      ps('p4', ago(4), { replicas: { [EU]: 'completed' } }),
      ps('p5', ago(5), { replicas: { [EU]: 'deleted' } }),
    ];
    expect(decideRetention(pts, rules(10, 0, { [EU]: 2 }), NOW, false)).toEqual({ delete: [], kept: [] });
    // Beyond keep, a replica in error is cleaned up like any other.
    expect(deletedIds(decideRetention(pts, rules(10, 0, { [EU]: 1 }), NOW, false))).toEqual([
      `p3:rep:${EU}`,
      `p4:rep:${EU}`,
    ]);
  });

  it('a gone instance keeps its last replica in a target when a newer copy failed', () => {
    const pts = [
      ps('p1', ago(1), { replicas: { [EU]: 'error' } }),
      ps('p2', ago(2), { replicas: { [EU]: 'completed' } }),
      ps('p3', ago(3), { replicas: { [EU]: 'completed' } }),
    ];
    expect(deletedIds(decideRetention(pts, rules(10, 0, { [EU]: 1 }), NOW, true))).toEqual([`p3:rep:${EU}`]);
  });

  it('ignores keepDays for replicas', () => {
    const pts = [
      ps('p1', ago(0), { replicas: { [EU]: 'completed' } }),
      ps('p2', ago(0, -1), { replicas: { [EU]: 'completed' } }),
    ];
    // p2 is a millisecond newer than p1.
    expect(deletedIds(decideRetention(pts, rules(10, 30, { [EU]: 1 }), NOW, false))).toEqual([
      `p1:rep:${EU}`,
    ]);
  });
});

describe('decideRetention: sources and replicas decided independently', () => {
  const pts = [
    ps('p1', ago(1), { replicas: { [EU]: 'completed' } }),
    ps('p2', ago(2), { replicas: { [EU]: 'completed' } }),
    ps('p3', ago(3), { replicas: { [EU]: 'completed' } }),
    ps('p4', ago(4), {
      sources: { '/dev/xvda': 'deleted', '/dev/sdf': 'deleted' },
      replicas: { [EU]: 'completed' },
    }),
  ];

  it('a point can lose its sources and keep its replica', () => {
    const d = decideRetention(pts, rules(1, 0, { [EU]: 3 }), NOW, false);
    expect(deletedIds(d)).toEqual([...both('p2'), ...both('p3'), `p4:rep:${EU}`]);
  });

  it('a point can lose its replica and keep its sources', () => {
    const d = decideRetention(pts, rules(3, 0, { [EU]: 1 }), NOW, false);
    expect(deletedIds(d)).toEqual([`p2:rep:${EU}`, `p3:rep:${EU}`, `p4:rep:${EU}`]);
  });

  it('a hold keeps both layers', () => {
    const held = pts.map((p) => (p.point.id === 'p3' ? { ...p, holds: [hold('p3', 'manual', 'audit')] } : p));
    const d = decideRetention(held, rules(1, 0, { [EU]: 1 }), NOW, false);
    expect(deletedIds(d)).toEqual([...both('p2'), `p2:rep:${EU}`, `p4:rep:${EU}`]);
    expect(keptText(d)).toEqual([
      'p3 snapshots: held: manual (audit)',
      `p3 replica ${EU}: held: manual (audit)`,
    ]);
  });
});

describe('retentionOf', () => {
  it('takes keep, keepDays and a keep per `<account>/<region>` target', () => {
    expect(
      retentionOf({
        snapshots: { keep: 7, keepDays: 30 },
        replicas: [
          { account: 'backup', region: 'eu-west-1', keep: 14 },
          { account: 'dr', region: 'us-west-2', keep: 3 },
        ],
      }),
    ).toEqual({ keep: 7, keepDays: 30, replicas: { 'backup/eu-west-1': 14, 'dr/us-west-2': 3 } });
  });

  it('defaults keepDays to 0 and replicas to none', () => {
    expect(retentionOf({ snapshots: { keep: 2 } })).toEqual({ keep: 2, keepDays: 0, replicas: {} });
    expect(retentionOf({ snapshots: { keep: 2 }, replicas: [] })).toEqual({
      keep: 2,
      keepDays: 0,
      replicas: {},
    });
  });
});
