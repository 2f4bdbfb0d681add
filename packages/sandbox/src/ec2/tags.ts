import { AwsError } from '../core/errors.js';
import type { Tag } from '../core/model.js';
import type { Table } from '../core/state.js';
import { byId, type Call, type Handler, isIdOf, tables } from './call.js';
import { applyFilters } from './filters.js';
import { paginate } from './paging.js';
import type { Params } from './query.js';
import type { Owned } from './records.js';

export const MAX_TAGS = 50;

/** AWS's tag rules: 50 per resource, key 1..128, value up to 256, no `aws:` prefix. */
export function validateTags(tags: Tag[]): void {
  for (const t of tags) {
    if (t.Key.length === 0) throw new AwsError('InvalidParameterValue', 'Tag key cannot be empty');
    if (t.Key.length > 128) {
      throw new AwsError('InvalidParameterValue', 'Tag key exceeds the maximum length of 128 characters');
    }
    if (t.Value.length > 256) {
      throw new AwsError('InvalidParameterValue', 'Tag value exceeds the maximum length of 256 characters');
    }
    if (t.Key.toLowerCase().startsWith('aws:')) {
      throw new AwsError(
        'InvalidParameterValue',
        "Tag keys starting with 'aws:' are reserved for internal use",
      );
    }
  }
}

/** Later tags of the same key replace earlier ones, as CreateTags does. */
export function mergeTags(existing: Tag[], add: Tag[]): Tag[] {
  const out = existing.map((t) => ({ ...t }));
  for (const t of add) {
    const i = out.findIndex((x) => x.Key === t.Key);
    if (i >= 0) out[i] = { Key: t.Key, Value: t.Value };
    else out.push({ Key: t.Key, Value: t.Value });
  }
  if (out.length > MAX_TAGS) {
    throw new AwsError('TagLimitExceeded', 'The maximum number of Tags for a resource has been reached.');
  }
  return out;
}

export function parseTags(list: Params[]): Tag[] {
  return list.map((t) => ({ Key: t.req('Key'), Value: t.str('Value') ?? '' }));
}

/**
 * Tags per resource type from TagSpecification.N. Types the operation does not create are refused as AWS does;
 * tag rules are checked before anything is created so that a refused call leaves nothing behind.
 */
export function tagSpecs(p: Params, allowed: string[]): Map<string, Tag[]> {
  const out = new Map<string, Tag[]>();
  for (const spec of p.structs('TagSpecification')) {
    const type = spec.req('ResourceType');
    if (!allowed.includes(type)) {
      throw new AwsError(
        'InvalidParameterValue',
        `'${type}' is not a valid taggable resource type for this operation.`,
      );
    }
    const tags = mergeTags(out.get(type) ?? [], parseTags(spec.structs('Tag')));
    validateTags(tags);
    out.set(type, tags);
  }
  return out;
}

interface Taggable {
  prefix: string;
  idKey: string;
  type: string;
  table: (c: Call) => Table<Owned>;
  notFound: (id: string) => AwsError;
}

const nf = (code: string, what: string) => (id: string) =>
  new AwsError(code, `The ${what} '${id}' does not exist`);

/** Every resource type that carries tags, by id prefix. */
const TAGGABLE: Taggable[] = [
  {
    prefix: 'i',
    idKey: 'instanceId',
    type: 'instance',
    table: (c) => tables(c).instances,
    notFound: nf('InvalidInstanceID.NotFound', 'instance ID'),
  },
  {
    prefix: 'vol',
    idKey: 'volumeId',
    type: 'volume',
    table: (c) => tables(c).volumes as unknown as Table<Owned>,
    notFound: nf('InvalidVolume.NotFound', 'volume'),
  },
  {
    prefix: 'snap',
    idKey: 'snapshotId',
    type: 'snapshot',
    table: (c) => tables(c).snapshots as unknown as Table<Owned>,
    notFound: nf('InvalidSnapshot.NotFound', 'snapshot'),
  },
  {
    prefix: 'ami',
    idKey: 'imageId',
    type: 'image',
    table: (c) => tables(c).images,
    notFound: nf('InvalidAMIID.NotFound', 'image id'),
  },
  {
    prefix: 'vpc',
    idKey: 'vpcId',
    type: 'vpc',
    table: (c) => tables(c).vpcs,
    notFound: nf('InvalidVpcID.NotFound', 'vpc ID'),
  },
  {
    prefix: 'subnet',
    idKey: 'subnetId',
    type: 'subnet',
    table: (c) => tables(c).subnets,
    notFound: nf('InvalidSubnetID.NotFound', 'subnet ID'),
  },
  {
    prefix: 'sg',
    idKey: 'groupId',
    type: 'security-group',
    table: (c) => tables(c).groups,
    notFound: nf('InvalidGroup.NotFound', 'security group'),
  },
  {
    prefix: 'key',
    idKey: 'keyPairId',
    type: 'key-pair',
    table: (c) => tables(c).keyPairs,
    notFound: nf('InvalidKeyPair.NotFound', 'key pair'),
  },
];

function taggableOf(id: string): Taggable {
  const t = TAGGABLE.find((x) => isIdOf(x.prefix, id));
  if (!t) throw new AwsError('InvalidID', `The ID '${id}' is not valid`);
  return t;
}

/** Applies a change to the tags of each named resource, all checked before any is changed. */
function changeTags(c: Call, ids: string[], change: (tags: Tag[]) => Tag[]): void {
  const updates: Array<{ table: Table<Owned>; id: string; rec: Owned }> = [];
  for (const id of ids) {
    const t = taggableOf(id);
    const table = t.table(c);
    const rec = table.get(id);
    if (!rec || rec.ownerId !== c.accountId || rec.region !== c.region) throw t.notFound(id);
    updates.push({ table, id, rec: { ...rec, tags: change(rec.tags) } });
  }
  for (const u of updates) u.table.put(u.id, u.rec);
}

export const createTags: Handler = (c) => {
  const ids = c.p.list('ResourceId');
  if (ids.length === 0)
    throw new AwsError('MissingParameter', 'The request must contain the parameter resourceIdSet');
  const add = parseTags(c.p.structs('Tag'));
  validateTags(add);
  changeTags(c, ids, (tags) => mergeTags(tags, add));
  return { return: true };
};

export const deleteTags: Handler = (c) => {
  const ids = c.p.list('ResourceId');
  if (ids.length === 0)
    throw new AwsError('MissingParameter', 'The request must contain the parameter resourceIdSet');
  // A tag given without a value removes the key whatever its value; with a value, only when it matches.
  const remove = c.p.structs('Tag').map((t) => ({ key: t.req('Key'), value: t.str('Value') }));
  changeTags(c, ids, (tags) =>
    remove.length === 0
      ? []
      : tags.filter(
          (t) => !remove.some((r) => r.key === t.Key && (r.value === undefined || r.value === t.Value)),
        ),
  );
  return { return: true };
};

interface TagRow {
  resourceId: string;
  resourceType: string;
  key: string;
  value: string;
}

export const describeTags: Handler = (c) => {
  const rows: TagRow[] = [];
  for (const t of TAGGABLE) {
    for (const rec of t.table(c).values()) {
      if (rec.ownerId !== c.accountId || rec.region !== c.region) continue;
      const id = String((rec as unknown as Record<string, unknown>)[t.idKey]);
      for (const tag of rec.tags)
        rows.push({ resourceId: id, resourceType: t.type, key: tag.Key, value: tag.Value });
    }
  }
  const filtered = applyFilters(rows, c.p.filters(), {
    'resource-id': (r) => r.resourceId,
    'resource-type': (r) => r.resourceType,
    key: (r) => r.key,
    value: (r) => r.value,
  });
  const keyOf = (r: TagRow) => `${r.resourceId}\u0000${r.key}`;
  const page = paginate(filtered.sort(byId(keyOf)), c.p, keyOf, { min: 5, max: 1000 });
  return { tagSet: page.items.map((r) => ({ ...r })), nextToken: page.nextToken };
};

export function tagSet(tags: Tag[]): Array<{ key: string; value: string }> {
  return tags.map((t) => ({ key: t.Key, value: t.Value }));
}
