/**
 * The sealed metadata of Lifeboat's EBS snapshots: what lets a new appliance holding the same secret (its
 * recovery phrase) rebuild every restore point, instance configuration included, from the snapshots' tags alone
 * (a "rescan"), and what makes forged, replayed and foreign tags fail.
 *
 * TAG LAYOUT (format v1; a stored format: read back years later, so only ever extended)
 *
 * A snapshot is tagged in two phases. At creation, clear markers (`lifeboat` = `v1`, `lifeboat:session`,
 * `lifeboat:task`, `lifeboat:expires`, `lifeboat:token`; not described here). Then, with CreateTags:
 *
 *   lifeboat:seal                 the snapshot's seal, a sealed value (below) of its SnapshotSeal; when longer than
 *   lifeboat:seal:1, :2, …        256 characters it is cut into 256-character slices, continued in these keys
 *                                 (read: `lifeboat:seal` + `:1` + `:2`… up to the first key that is missing).
 *   lifeboat:cfg:<n>              slice n (0, 1, 2… over the whole set) of the set's sealed instance
 *                                 configuration, each ≤ 256 characters. The slices are spread over all the
 *                                 snapshots of the set (round robin in the set's device order), so any one
 *                                 snapshot holds only some; a replica carries the same slices as its source.
 *                                 The configuration is sealed once per point (its nonce is random): replicas,
 *                                 and snapshots sealed on resuming, copy those slices, never re-seal them.
 *
 * A sealed value is `lb1:<key id, 8 hex>:<base64url(nonce 12 | ciphertext | GCM tag 16)>` (SecretBox.seal of
 * ../secret.ts: AES-256-GCM, key = HKDF-SHA-256 of the appliance key for `lifeboat/appliance/v1/<purpose>`, the
 * purpose also bound as associated data `lifeboat/<purpose>`). Purposes:
 *
 *   snapshot-seal/<snapshot id>   the seal: a seal copied onto another snapshot does not open there (replay);
 *   snapshot-config/<point id>    the configuration: slices of another restore point do not open either.
 *
 * The plaintext of both is one codec byte then the UTF-8 JSON, as is (0), deflateRaw (1) or brotli (2): the
 * writer takes whichever is shortest (brotli for typical inputs). The seal's JSON is a SnapshotSeal (fields
 * below; readers ignore fields they do not know); the configuration's JSON is an InstanceConfiguration of
 * @lifeboat/aws. The seal names the configuration's slice count and digest (the first 16 hex digits of SHA-256
 * of the whole sealed configuration string, the slices joined), so a reader knows which slices it needs.
 *
 * Budget: AWS allows 50 tags per resource (key ≤ 128 characters, value ≤ 256). Lifeboat keeps its own tags on a
 * snapshot (markers + seal + slices) at or under 40, so that 10 remain for users' own tags. When the
 * configuration does not fit into the slices the set can carry, the writer leaves out, in this order, user tags
 * (`aws:` tags first, then the longest values first, `Name` last), then other facts a restore can do without
 * (see REDUCTIONS), and says so in the seal (`config.overflow`); the caller keeps the full configuration in the
 * catalog.
 */
import { createHash } from 'node:crypto';
import {
  brotliCompressSync,
  brotliDecompressSync,
  constants,
  deflateRawSync,
  inflateRawSync,
} from 'node:zlib';
import type { InstanceConfiguration } from '@lifeboat/aws';
import type { SecretBox } from '../secret.js';

/** AWS's limits on a tag. */
export const TAG_KEY_MAX = 128;
export const TAG_VALUE_MAX = 256;
/** Lifeboat's tags on one snapshot, markers included, at most: 10 of AWS's 50 stay for the users. */
export const LIFEBOAT_TAGS_MAX = 40;
/** The markers of phase one (`lifeboat`, `:session`, `:task`, `:expires`, `:token`). */
export const MARKER_TAGS = 5;
/** A set of up to this many snapshots lists their ids in each seal; a larger one gives their count and digest. */
export const SET_LIST_MAX = 8;

export const SEAL_TAG = 'lifeboat:seal';
export const CONFIG_TAG_PREFIX = 'lifeboat:cfg:';

/** sealConfiguration's slices by default: what one snapshot carries beside its markers and a seal of ≤ 5 tags. */
export const DEFAULT_MAX_PIECES = LIFEBOAT_TAGS_MAX - MARKER_TAGS - 5;

const sealPurpose = (snapshotId: string) => `snapshot-seal/${snapshotId}`;
const configPurpose = (pointId: string) => `snapshot-config/${pointId}`;

/** A set too large to list: how many source snapshots, and setDigest of their ids in device order. */
export interface SetSummary {
  count: number;
  digest: string;
}

/** What the seal says of the set's configuration. */
export interface ConfigReference {
  /** Slices `lifeboat:cfg:0` … `lifeboat:cfg:<pieces - 1>` over the set; 0 when none fitted. */
  pieces: number;
  /** First 16 hex digits of SHA-256 of the sealed configuration (the slices joined); '' when none. */
  digest: string;
  /** Something was left out of it: the full configuration is in the catalog that made it. */
  overflow: boolean;
}

/** The sealed facts of one snapshot of a restore point. */
export interface SnapshotSeal {
  v: 1;
  /** The restore point's id. */
  point: string;
  policy: string | null;
  /** The policy's name when the point was made. */
  policyName: string | null;
  /** The job-engine session that made the point. */
  session: string | null;
  instance: string;
  /** The instance's AWS account. */
  awsAccount: string;
  /** The instance's region (a replica's own region is where it is found). */
  region: string;
  /** ISO instant of the set (CreateSnapshots' StartTime). */
  at: string;
  /** The instance's device name of the volume (`/dev/xvda`). */
  device: string;
  volume: string | null;
  sizeGiB: number;
  role: 'source' | 'replica';
  /** A replica's source snapshot id; null for a source. */
  source: string | null;
  /** The set's source snapshot ids in device order (setReference), or their count and digest when many. */
  set: string[] | SetSummary;
  /** Null when the point has no configuration sealed in its tags. */
  config: ConfigReference | null;
}

export interface Tag {
  Key: string;
  Value: string;
}

/** Tags as EC2 gives them, or as a record. */
export type TagsInput = ReadonlyArray<{ Key?: string; Value?: string }> | Readonly<Record<string, string>>;

/** One slice of a sealed configuration: its index over the set, and its text. */
export interface ConfigPiece {
  index: number;
  value: string;
}

export interface SealedConfiguration {
  /** The slices, in order, each ≤ 256 characters; empty when nothing fitted. */
  pieces: string[];
  digest: string;
  overflow: boolean;
  /** What was left out, in the order it was: `tags.<key>`, then REDUCTIONS names; `*` when all of it. */
  dropped: string[];
}

export type SealRefusal = 'unsealed' | 'unknown-key' | 'forged' | 'malformed';
export type ConfigRefusal = 'absent' | 'missing-pieces' | 'forged' | 'malformed';

// ---------------------------------------------------------------------------------------------------------------
// The set

/** setDigest: first 16 hex digits of SHA-256 of the ids joined by newlines. */
export function setDigest(sourceIds: readonly string[]): string {
  return sha16(sourceIds.join('\n'));
}

/** What a seal says of its set: the ids when at most SET_LIST_MAX, else their count and digest. */
export function setReference(sourceIds: readonly string[]): string[] | SetSummary {
  if (sourceIds.length <= SET_LIST_MAX) return [...sourceIds];
  return { count: sourceIds.length, digest: setDigest(sourceIds) };
}

/** The seal of a copy of the snapshot `sourceSnapshotId` (sealed by its source's seal). */
export function replicaSeal(sourceSeal: SnapshotSeal, sourceSnapshotId: string): SnapshotSeal {
  return { ...sourceSeal, role: 'replica', source: sourceSnapshotId };
}

// ---------------------------------------------------------------------------------------------------------------
// The configuration

type Reduction = { name: string; apply(c: InstanceConfiguration): InstanceConfiguration | null };

/**
 * What may be left out of a configuration after its tags, in this order; each returns null when it changes
 * nothing. A restore can do without them: descriptions and group names are cosmetic, a snapshot names its own KMS
 * key, a seal names its volume, secondary addresses and interface ids are not re-used by a launch.
 */
const REDUCTIONS: Reduction[] = [
  eniField('description'),
  {
    name: 'securityGroups.name',
    apply: (c) =>
      c.securityGroups?.some((g) => g.name !== undefined)
        ? { ...c, securityGroups: c.securityGroups.map((g) => ({ id: g.id })) }
        : null,
  },
  {
    name: 'networkInterfaces.secondaryPrivateIpAddresses',
    apply: (c) =>
      c.networkInterfaces?.some((n) => (n.privateIpAddresses?.length ?? 0) > 1)
        ? {
            ...c,
            networkInterfaces: c.networkInterfaces.map((n) =>
              n.privateIpAddresses ? { ...n, privateIpAddresses: n.privateIpAddresses.slice(0, 1) } : n,
            ),
          }
        : null,
  },
  eniField('ipv6Addresses'),
  blockDeviceField('kmsKeyId'),
  blockDeviceField('volumeId'),
  eniField('networkInterfaceId'),
];

function eniField(field: 'description' | 'ipv6Addresses' | 'networkInterfaceId'): Reduction {
  return {
    name: `networkInterfaces.${field}`,
    apply: (c) =>
      c.networkInterfaces?.some((n) => n[field] !== undefined)
        ? { ...c, networkInterfaces: c.networkInterfaces.map((n) => without(n, field)) }
        : null,
  };
}

function blockDeviceField(field: 'kmsKeyId' | 'volumeId'): Reduction {
  return {
    name: `blockDevices.${field}`,
    apply: (c) =>
      c.blockDevices?.some((b) => b[field] !== undefined)
        ? { ...c, blockDevices: c.blockDevices.map((b) => without(b, field)) }
        : null,
  };
}

function without<T extends object, K extends keyof T>(o: T, key: K): T {
  const copy = { ...o };
  delete copy[key];
  return copy;
}

/** The order tags are left out in: `aws:` tags, then the longest values (then keys) first; `Name` last. */
function tagDropOrder(tags: Record<string, string>): string[] {
  const rank = (k: string) => (k.startsWith('aws:') ? 0 : k === 'Name' ? 2 : 1);
  return Object.keys(tags).sort(
    (a, b) =>
      rank(a) - rank(b) ||
      tags[b]!.length - tags[a]!.length ||
      b.length - a.length ||
      (a < b ? -1 : a > b ? 1 : 0),
  );
}

/**
 * The configuration of restore point `pointId`, sealed and cut into slices of ≤ 256 characters, at most
 * `maxPieces` of them (default DEFAULT_MAX_PIECES, what a set of one snapshot carries; sealSet passes what the
 * set carries): when it does not fit, user tags and then REDUCTIONS are left out (deterministically: the same
 * configuration and budget leave out the same) and `dropped` says which. Empty `pieces` (and `dropped` ending in
 * '*') when not even the rest fits. The nonce is random: seal a point's configuration ONCE and keep the result;
 * sealing it again gives other slices and another digest, which do not mix with the first.
 */
export function sealConfiguration(
  box: SecretBox,
  pointId: string,
  config: InstanceConfiguration,
  options: { maxPieces?: number } = {},
): SealedConfiguration {
  const maxPieces = options.maxPieces ?? DEFAULT_MAX_PIECES;
  const maxChars = Math.max(0, maxPieces) * TAG_VALUE_MAX;
  const plain = (c: InstanceConfiguration) => pack(JSON.stringify(c));
  // A candidate's sealed length depends only on its plaintext's (sealing it costs little).
  const sealedLength = (c: InstanceConfiguration) => sealedLengthOf(plain(c).length);
  const dropped: string[] = [];
  let current = config;
  let fits = sealedLength(current) <= maxChars;
  if (!fits && current.tags) {
    // Leave out the first k tags in drop order, k the smallest that fits (binary search: fewer compressions; the
    // same configuration takes the same path, so gives the same k).
    const order = tagDropOrder(current.tags);
    const kept = (k: number): InstanceConfiguration => {
      const tags = { ...config.tags };
      for (const key of order.slice(0, k)) delete tags[key];
      return Object.keys(tags).length > 0 ? { ...config, tags } : without(config, 'tags');
    };
    let lo = 1;
    let hi = order.length;
    fits = sealedLength(kept(hi)) <= maxChars;
    if (fits) {
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (sealedLength(kept(mid)) <= maxChars) hi = mid;
        else lo = mid + 1;
      }
    }
    const k = fits ? hi : order.length;
    current = kept(k);
    dropped.push(...order.slice(0, k).map((key) => `tags.${key}`));
  }
  for (const r of REDUCTIONS) {
    if (fits) break;
    const next = r.apply(current);
    if (!next) continue;
    current = next;
    dropped.push(r.name);
    fits = sealedLength(current) <= maxChars;
  }
  if (!fits) return { pieces: [], digest: '', overflow: true, dropped: [...dropped, '*'] };
  const sealed = box.seal(configPurpose(pointId), plain(current));
  return { pieces: slices(sealed), digest: sha16(sealed), overflow: dropped.length > 0, dropped };
}

/**
 * The configuration sealed in the tags of a set's snapshots (any of them, sources or replicas, in any order):
 * `absent` when the seal says none was sealed, `missing-pieces` when a slice is on none of them, `forged` when
 * the slices do not match the seal's digest or do not open for this point, `malformed` when they open to
 * something else than a configuration. `overflow`: something was left out (the seal says so).
 */
export function openConfiguration(
  box: SecretBox,
  pointId: string,
  seal: SnapshotSeal,
  tagsOfSetSnapshots: readonly TagsInput[],
): { configuration: InstanceConfiguration; overflow: boolean } | { refused: ConfigRefusal } {
  const ref = seal.config;
  if (!ref || ref.pieces === 0) return { refused: 'absent' };
  // Each slice's distinct values, first seen first (a damaged copy on one snapshot does not hide a good one).
  const candidates: string[][] = Array.from({ length: ref.pieces }, () => []);
  for (const tags of tagsOfSetSnapshots) {
    for (const [key, value] of tagMap(tags)) {
      if (!key.startsWith(CONFIG_TAG_PREFIX)) continue;
      const n = pieceIndex(key);
      if (n === undefined || n >= ref.pieces) continue;
      if (!candidates[n]!.includes(value)) candidates[n]!.push(value);
    }
  }
  if (candidates.some((c) => c.length === 0)) return { refused: 'missing-pieces' };
  const sealed = combinations(candidates, 64).find((s) => sha16(s) === ref.digest);
  if (sealed === undefined) return { refused: 'forged' };
  let plain: Buffer;
  try {
    plain = box.open(configPurpose(pointId), sealed);
  } catch {
    return { refused: 'forged' };
  }
  try {
    const parsed = JSON.parse(unpack(plain)) as unknown;
    if (!isRecord(parsed) || typeof parsed.instanceId !== 'string') return { refused: 'malformed' };
    return { configuration: parsed as unknown as InstanceConfiguration, overflow: ref.overflow };
  } catch {
    return { refused: 'malformed' };
  }
}

/** Joined candidates of each slice, first choices first, at most `limit` of them. */
function combinations(candidates: string[][], limit: number): string[] {
  let out = [''];
  for (const c of candidates) {
    const next: string[] = [];
    for (const prefix of out) for (const v of c) if (next.length < limit) next.push(prefix + v);
    out = next;
  }
  return out;
}

/** The `lifeboat:cfg:<n>` tags of a snapshot (to copy onto its replica), by index. */
export function configPiecesOf(tags: TagsInput): ConfigPiece[] {
  const out: ConfigPiece[] = [];
  for (const [key, value] of tagMap(tags)) {
    const n = key.startsWith(CONFIG_TAG_PREFIX) ? pieceIndex(key) : undefined;
    if (n !== undefined) out.push({ index: n, value });
  }
  return out.sort((a, b) => a.index - b.index);
}

function pieceIndex(key: string): number | undefined {
  const rest = key.slice(CONFIG_TAG_PREFIX.length);
  return /^(0|[1-9][0-9]{0,5})$/.test(rest) ? Number(rest) : undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// The seal

/** The tags of phase two for one snapshot: its seal (`lifeboat:seal`, `:1`…) and its configuration slices. */
export function sealTags(
  box: SecretBox,
  snapshotId: string,
  seal: SnapshotSeal,
  pieces: readonly ConfigPiece[] = [],
): Tag[] {
  return [...sealValueTags(sealValue(box, snapshotId, seal)), ...pieceTags(pieces)];
}

function sealValue(box: SecretBox, snapshotId: string, seal: SnapshotSeal): string {
  const canonical = validSeal(seal);
  if (!canonical) throw new Error(`not a valid v1 snapshot seal for ${snapshotId}`);
  return box.seal(sealPurpose(snapshotId), pack(JSON.stringify(canonical)));
}

function sealValueTags(sealed: string): Tag[] {
  return slices(sealed).map((Value, i) => ({ Key: i === 0 ? SEAL_TAG : `${SEAL_TAG}:${i}`, Value }));
}

function pieceTags(pieces: readonly ConfigPiece[]): Tag[] {
  return pieces.map((p) => {
    if (!Number.isInteger(p.index) || p.index < 0 || p.value.length > TAG_VALUE_MAX) {
      throw new Error(`not a configuration slice: ${p.index}`);
    }
    return { Key: `${CONFIG_TAG_PREFIX}${p.index}`, Value: p.value };
  });
}

/** How many tags a snapshot's seal takes, and, for a source, the most its replica's seal will. */
function sealTagCount(box: SecretBox, snapshotId: string, seal: SnapshotSeal): number {
  void box;
  const count = (s: SnapshotSeal) => {
    const canonical = validSeal(s);
    if (!canonical) throw new Error(`not a valid v1 snapshot seal for ${snapshotId}`);
    return Math.ceil(sealedLengthOf(pack(JSON.stringify(canonical)).length) / TAG_VALUE_MAX);
  };
  return seal.role === 'source' ? Math.max(count(seal), count(replicaSeal(seal, snapshotId))) : count(seal);
}

/**
 * The phase-two tags of each snapshot of a set (sources, or the replicas of one copy), by snapshot id: each its
 * seal, and the configuration slices dealt round robin in the given order, so evenly, never past
 * LIFEBOAT_TAGS_MAX with `markerTags` markers (a source keeps room for the longer seal of its replica, which
 * carries the same slices). Throws when they do not fit (sealSet sizes the configuration so that they do).
 */
export function planSetTags(
  box: SecretBox,
  seals: ReadonlyArray<{ snapshotId: string; seal: SnapshotSeal }>,
  configPieces: readonly string[],
  options: { markerTags?: number } = {},
): Map<string, Tag[]> {
  const markers = options.markerTags ?? MARKER_TAGS;
  const room = seals.map((s) => LIFEBOAT_TAGS_MAX - markers - sealTagCount(box, s.snapshotId, s.seal));
  const bad = room.findIndex((r) => r < 0);
  if (bad >= 0) throw new Error(`the seal of ${seals[bad]!.snapshotId} takes more tags than a snapshot has`);
  const dealt: ConfigPiece[][] = seals.map(() => []);
  let next = 0;
  for (let index = 0; index < configPieces.length; index++) {
    let tries = 0;
    while (tries < seals.length && dealt[next]!.length >= room[next]!) {
      next = (next + 1) % seals.length;
      tries++;
    }
    if (tries === seals.length || seals.length === 0) {
      throw new Error(`${configPieces.length} configuration slices do not fit on ${seals.length} snapshots`);
    }
    dealt[next]!.push({ index, value: configPieces[index]! });
    next = (next + 1) % seals.length;
  }
  return new Map(seals.map((s, i) => [s.snapshotId, sealTags(box, s.snapshotId, s.seal, dealt[i])]));
}

/**
 * Everything phase two writes for a new set: the configuration sealed as large as the set's tags allow, each
 * snapshot's seal naming it, and the tags per snapshot id (planSetTags). `snapshots` in device order.
 */
export function sealSet(
  box: SecretBox,
  input: {
    pointId: string;
    configuration: InstanceConfiguration | null;
    snapshots: ReadonlyArray<{ snapshotId: string; seal: Omit<SnapshotSeal, 'config'> }>;
    markerTags?: number;
  },
): {
  configuration: SealedConfiguration | null;
  seals: Array<{ snapshotId: string; seal: SnapshotSeal }>;
  tags: Map<string, Tag[]>;
} {
  const markers = input.markerTags ?? MARKER_TAGS;
  const withConfig = (config: ConfigReference | null) =>
    input.snapshots.map((s) => ({ snapshotId: s.snapshotId, seal: { ...s.seal, config } as SnapshotSeal }));
  // Seal sizes depend a little on the configuration's reference (slice count, digest): start from a guess, and
  // grow a snapshot's reservation until it holds (reservations only grow, so this ends).
  const guess: ConfigReference | null = input.configuration
    ? { pieces: 10, digest: sha16(input.pointId), overflow: false }
    : null;
  let reserved = withConfig(guess).map((s) => sealTagCount(box, s.snapshotId, s.seal));
  for (;;) {
    const room = reserved.map((r) => Math.max(0, LIFEBOAT_TAGS_MAX - markers - r));
    const sealed = input.configuration
      ? sealConfiguration(box, input.pointId, input.configuration, { maxPieces: sum(room) })
      : null;
    const seals = withConfig(
      sealed ? { pieces: sealed.pieces.length, digest: sealed.digest, overflow: sealed.overflow } : null,
    );
    const actual = seals.map((s) => sealTagCount(box, s.snapshotId, s.seal));
    if (actual.every((a, i) => a <= reserved[i]!)) {
      return { configuration: sealed, seals, tags: planSetTags(box, seals, sealed?.pieces ?? [], input) };
    }
    reserved = reserved.map((r, i) => Math.max(r, actual[i]!));
  }
}

/**
 * The seal in a snapshot's tags, opened for that snapshot. Never throws: `unsealed` (no `lifeboat:seal`),
 * `unknown-key` (sealed by a key not in this ring: another appliance's, or an older key not restored),
 * `forged` (fails authentication: altered, or copied from another snapshot), `malformed` (authentic, but not a
 * v1 seal).
 */
export function openSeal(
  box: SecretBox,
  snapshotId: string,
  tags: TagsInput,
): { seal: SnapshotSeal } | { refused: SealRefusal } {
  const map = tagMap(tags);
  let sealed = map.get(SEAL_TAG);
  if (sealed === undefined) return { refused: 'unsealed' };
  for (let i = 1; map.has(`${SEAL_TAG}:${i}`); i++) sealed += map.get(`${SEAL_TAG}:${i}`);
  const m = /^lb1:([0-9a-f]{8}):[A-Za-z0-9_-]{38,}$/.exec(sealed);
  if (!m) return { refused: 'forged' };
  const keys = (box as { keys?: unknown }).keys;
  if (Array.isArray(keys) && !keys.some((k) => (k as { id?: unknown })?.id === m[1])) {
    return { refused: 'unknown-key' };
  }
  let plain: Buffer;
  try {
    plain = box.open(sealPurpose(snapshotId), sealed);
  } catch (err) {
    // A box that does not show its keys: SecretBox.open names a failed authentication by its cause.
    return { refused: Array.isArray(keys) || (err as Error)?.cause !== undefined ? 'forged' : 'unknown-key' };
  }
  try {
    const seal = validSeal(JSON.parse(unpack(plain)));
    return seal ? { seal } : { refused: 'malformed' };
  } catch {
    return { refused: 'malformed' };
  }
}

/** `s` as a v1 seal (its fields only, in their order), or undefined when it is not one. */
function validSeal(s: unknown): SnapshotSeal | undefined {
  if (!isRecord(s) || s.v !== 1) return undefined;
  const str = (x: unknown): x is string => typeof x === 'string' && x.length > 0;
  const strOrNull = (x: unknown) => x === null || str(x);
  const { point, policy, policyName, session, instance, awsAccount, region, at, device, volume } = s;
  const { sizeGiB, role, source, set, config } = s;
  if (!str(point) || !str(instance) || !str(awsAccount) || !str(region) || !str(device)) return undefined;
  if (!strOrNull(policy) || !strOrNull(policyName) || !strOrNull(session) || !strOrNull(volume))
    return undefined;
  if (!str(at) || !Number.isFinite(Date.parse(at))) return undefined;
  if (typeof sizeGiB !== 'number' || !Number.isInteger(sizeGiB) || sizeGiB < 0) return undefined;
  if (!(role === 'source' && source === null) && !(role === 'replica' && str(source))) return undefined;
  let setRef: string[] | SetSummary;
  if (Array.isArray(set)) {
    if (set.length === 0 || !set.every(str)) return undefined;
    setRef = [...set];
  } else if (
    isRecord(set) &&
    Number.isInteger(set.count) &&
    (set.count as number) > 0 &&
    typeof set.digest === 'string' &&
    /^[0-9a-f]{16}$/.test(set.digest)
  ) {
    setRef = { count: set.count as number, digest: set.digest };
  } else return undefined;
  let configRef: ConfigReference | null = null;
  if (config !== null) {
    if (
      !isRecord(config) ||
      !Number.isInteger(config.pieces) ||
      (config.pieces as number) < 0 ||
      typeof config.digest !== 'string' ||
      typeof config.overflow !== 'boolean'
    ) {
      return undefined;
    }
    configRef = { pieces: config.pieces as number, digest: config.digest, overflow: config.overflow };
  }
  return {
    v: 1,
    point,
    policy: policy as string | null,
    policyName: policyName as string | null,
    session: session as string | null,
    instance,
    awsAccount,
    region,
    at,
    device,
    volume: volume as string | null,
    sizeGiB,
    role,
    source: source as string | null,
    set: setRef,
    config: configRef,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Encoding

const CODEC_RAW = 0;
const CODEC_DEFLATE_RAW = 1;
const CODEC_BROTLI = 2;
/** Decompressed plaintexts larger than this are refused (a tag-borne value is a few KiB). */
const MAX_PLAIN = 1 << 20;

/** One codec byte then the JSON, as is, deflateRaw or brotli: whichever is shortest (the earlier on a tie). */
/**
 * The shortest of raw, deflateRaw and brotli. Brotli's best quality costs ~1.5 ms: spent only on the
 * configuration (over 1 KiB, once per point); seals take a quick quality. Sizing a set seals the same texts
 * several times: the last results are kept.
 */
/**
 * The length of `SecretBox.seal`'s answer for a plaintext of this many bytes, without sealing: it depends on
 * nothing else (`lb1:` + 8-hex key id + `:` + unpadded base64url of nonce 12 + ciphertext + tag 16).
 */
function sealedLengthOf(plainBytes: number): number {
  return 'lb1:'.length + 8 + 1 + Math.ceil(((12 + plainBytes + 16) * 4) / 3);
}

function pack(json: string): Buffer {
  const known = packed.get(json);
  if (known) return known;
  const raw = Buffer.from(json, 'utf8');
  const candidates: Array<[number, Buffer]> = [
    [CODEC_RAW, raw],
    [CODEC_DEFLATE_RAW, deflateRawSync(raw, { level: 9, memLevel: 9 })],
    [
      CODEC_BROTLI,
      brotliCompressSync(raw, {
        params: {
          [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
          [constants.BROTLI_PARAM_QUALITY]: raw.length >= 1024 ? constants.BROTLI_MAX_QUALITY : 5,
          [constants.BROTLI_PARAM_SIZE_HINT]: raw.length,
        },
      }),
    ],
  ];
  let best = candidates[0]!;
  for (const c of candidates) if (c[1].length < best[1].length) best = c;
  const out = Buffer.concat([Buffer.from([best[0]]), best[1]]);
  if (packed.size >= PACKED_KEPT) packed.delete(packed.keys().next().value!);
  packed.set(json, out);
  return out;
}

const PACKED_KEPT = 64;
const packed = new Map<string, Buffer>();

/** The JSON text of a packed plaintext; throws when it is not one. */
function unpack(plain: Buffer): string {
  const body = plain.subarray(1);
  let raw: Buffer;
  switch (plain[0]) {
    case CODEC_RAW:
      raw = body;
      break;
    case CODEC_DEFLATE_RAW:
      raw = inflateRawSync(body, { maxOutputLength: MAX_PLAIN });
      break;
    case CODEC_BROTLI:
      raw = brotliDecompressSync(body, { maxOutputLength: MAX_PLAIN });
      break;
    default:
      throw new Error(`unknown codec ${plain[0]}`);
  }
  return new TextDecoder('utf-8', { fatal: true }).decode(raw);
}

function slices(s: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < s.length; i += TAG_VALUE_MAX) out.push(s.slice(i, i + TAG_VALUE_MAX));
  return out;
}

function sha16(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 16);
}

function sum(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Tags as a map, first value of a key kept; anything else than tags gives none. */
function tagMap(tags: TagsInput): Map<string, string> {
  const map = new Map<string, string>();
  const add = (k: unknown, v: unknown) => {
    if (typeof k === 'string' && !map.has(k)) map.set(k, typeof v === 'string' ? v : '');
  };
  if (Array.isArray(tags)) {
    for (const t of tags) if (isRecord(t)) add(t.Key, t.Value);
  } else if (isRecord(tags)) {
    for (const [k, v] of Object.entries(tags)) add(k, v);
  }
  return map;
}
