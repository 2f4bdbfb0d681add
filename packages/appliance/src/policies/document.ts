/**
 * The policy document: what to protect (accounts, regions, instance ids and tags, exclusions), when (a
 * schedule), how long snapshots stay (count and days) and where replicas go. Users give it as YAML or JSON; it is
 * stored as given after validation. Validation names every wrong field with what is allowed, and refuses unknown
 * keys, so that a typo never silently selects or keeps something else.
 */
import { type Schedule, scheduleErrors } from './schedule.js';

export interface ReplicaTarget {
  /** A registered account name. */
  account: string;
  region: string;
  /** The KMS key (id, ARN or alias) in the target account and region that encrypts the copies. */
  kmsKey?: string;
  /**
   * For a copy into another account of snapshots under the source account's aws/ebs key (which cannot be
   * shared): a customer managed key in the source account and region that the target account may use; the
   * snapshots are first copied under it, then shared.
   */
  shareKmsKey?: string;
  /** Restore points whose replica in this target are kept (newest first). */
  keep: number;
}

export interface PolicyDocument {
  name: string;
  description?: string;
  resources: {
    accounts: string[];
    regions: string[];
    instances?: string[];
    /** All of these tags; the value `*` matches any value. */
    tags?: Record<string, string>;
    exclude?: {
      instances?: string[];
      /** Any of these tags excludes; `*` matches any value. */
      tags?: Record<string, string>;
      devices?: string[];
    };
  };
  /** Without one the policy runs only when asked to (`policy run`). */
  schedule?: Schedule;
  /** A restore point is kept while either rule keeps it. */
  snapshots: { keep: number; keepDays?: number };
  replicas?: ReplicaTarget[];
}

export const POLICY_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const ACCOUNT = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
const INSTANCE = /^i-[0-9a-f]{8,17}$/;
const DEVICE = /^\/dev\/[a-z0-9]{2,16}$|^xvd[a-z]{1,2}$/;
const KMS_KEY =
  /^(alias\/[\w/:.-]{1,250}|[0-9a-f-]{36}|mrk-[0-9a-f]{32}|arn:aws[a-z-]*:kms:[\w-]+:\d{12}:(key|alias)\/[\w/:.-]+)$/;
export const MAX_KEEP = 1000;

type Errors = string[];
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown) => JSON.stringify(v) ?? String(v);

function keysOnly(v: Record<string, unknown>, path: string, allowed: string[], errors: Errors): void {
  for (const k of Object.keys(v)) {
    if (!allowed.includes(k)) errors.push(`${path}: unknown key "${k}" (allowed: ${allowed.join(', ')})`);
  }
}

function stringList(
  v: unknown,
  path: string,
  pattern: RegExp,
  what: string,
  errors: Errors,
  options: { min?: number } = {},
): void {
  if (!Array.isArray(v)) {
    errors.push(`${path}: must be a list of ${what}s`);
    return;
  }
  if (v.length < (options.min ?? 0)) errors.push(`${path}: name at least ${options.min} ${what}`);
  if (v.length > 1000) errors.push(`${path}: at most 1000 entries`);
  const seen = new Set<unknown>();
  v.forEach((x, i) => {
    if (typeof x !== 'string' || !pattern.test(x)) errors.push(`${path}[${i}]: ${show(x)} is not a ${what}`);
    else if (seen.has(x)) errors.push(`${path}[${i}]: ${show(x)} is listed twice`);
    seen.add(x);
  });
}

function tagMap(v: unknown, path: string, errors: Errors): void {
  if (!isObject(v)) {
    errors.push(`${path}: must be a map of tag key to value ("*" for any value)`);
    return;
  }
  if (Object.keys(v).length > 50) errors.push(`${path}: at most 50 tags`);
  for (const [k, x] of Object.entries(v)) {
    if (k.length < 1 || k.length > 128) errors.push(`${path}: tag key ${show(k)} must be 1-128 characters`);
    if (typeof x !== 'string' || x.length > 256) {
      errors.push(`${path}.${k}: must be a string of at most 256 characters ("*" for any value)`);
    }
  }
}

function integer(v: unknown, path: string, min: number, max: number, errors: Errors): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    errors.push(`${path}: ${show(v)} must be a whole number from ${min} to ${max}`);
  }
}

function resourcesErrors(v: unknown, errors: Errors): void {
  const path = 'resources';
  if (!isObject(v)) {
    errors.push(`${path}: required, a map with accounts, regions, and instances and/or tags`);
    return;
  }
  keysOnly(v, path, ['accounts', 'regions', 'instances', 'tags', 'exclude'], errors);
  stringList(v.accounts, `${path}.accounts`, ACCOUNT, 'registered account name', errors, { min: 1 });
  stringList(v.regions, `${path}.regions`, REGION, 'region name (e.g. us-east-1)', errors, { min: 1 });
  if (v.instances !== undefined)
    stringList(v.instances, `${path}.instances`, INSTANCE, 'instance id', errors);
  if (v.tags !== undefined) tagMap(v.tags, `${path}.tags`, errors);
  const ids = Array.isArray(v.instances) ? v.instances.length : 0;
  const tags = isObject(v.tags) ? Object.keys(v.tags).length : 0;
  if (ids === 0 && tags === 0) {
    errors.push(
      `${path}: select instances by id (instances: [i-...]), by tags (tags: {Key: value}), or both`,
    );
  }
  if (v.exclude !== undefined) {
    const x = v.exclude;
    if (!isObject(x)) {
      errors.push(`${path}.exclude: must be a map with instances, tags and/or devices`);
      return;
    }
    keysOnly(x, `${path}.exclude`, ['instances', 'tags', 'devices'], errors);
    if (x.instances !== undefined) {
      stringList(x.instances, `${path}.exclude.instances`, INSTANCE, 'instance id', errors);
    }
    if (x.tags !== undefined) tagMap(x.tags, `${path}.exclude.tags`, errors);
    if (x.devices !== undefined) {
      stringList(x.devices, `${path}.exclude.devices`, DEVICE, 'device name (e.g. /dev/sdg)', errors);
    }
  }
}

function snapshotsErrors(v: unknown, errors: Errors): void {
  if (!isObject(v)) {
    errors.push(
      'snapshots: required, e.g. {keep: 7} (restore points kept per instance) and optionally keepDays',
    );
    return;
  }
  keysOnly(v, 'snapshots', ['keep', 'keepDays'], errors);
  integer(v.keep, 'snapshots.keep', 1, MAX_KEEP, errors);
  if (v.keepDays !== undefined) integer(v.keepDays, 'snapshots.keepDays', 0, 36_500, errors);
}

function replicasErrors(v: unknown, errors: Errors): void {
  if (!Array.isArray(v)) {
    errors.push('replicas: must be a list of {account, region, kmsKey, keep}');
    return;
  }
  if (v.length > 10) errors.push('replicas: at most 10 targets');
  const seen = new Set<string>();
  v.forEach((r, i) => {
    const path = `replicas[${i}]`;
    if (!isObject(r)) {
      errors.push(`${path}: must be a map {account, region, kmsKey, keep}`);
      return;
    }
    keysOnly(r, path, ['account', 'region', 'kmsKey', 'shareKmsKey', 'keep'], errors);
    if (typeof r.account !== 'string' || !ACCOUNT.test(r.account)) {
      errors.push(`${path}.account: ${show(r.account)} is not a registered account name`);
    }
    if (typeof r.region !== 'string' || !REGION.test(r.region)) {
      errors.push(`${path}.region: ${show(r.region)} is not a region name (e.g. eu-west-1)`);
    }
    for (const k of ['kmsKey', 'shareKmsKey'] as const) {
      if (r[k] !== undefined && (typeof r[k] !== 'string' || !KMS_KEY.test(r[k] as string))) {
        errors.push(`${path}.${k}: ${show(r[k])} is not a KMS key id, ARN or alias (alias/...)`);
      }
    }
    integer(r.keep, `${path}.keep`, 1, MAX_KEEP, errors);
    const target = `${String(r.account)}/${String(r.region)}`;
    if (seen.has(target)) errors.push(`${path}: ${target} is a target twice`);
    seen.add(target);
  });
}

/** Every problem of a policy document, each naming its field; empty when valid. */
export function policyErrors(value: unknown): string[] {
  const errors: Errors = [];
  if (!isObject(value)) return ['the policy must be a map (YAML or JSON object)'];
  keysOnly(
    value,
    '(top level)',
    ['name', 'description', 'resources', 'schedule', 'snapshots', 'replicas'],
    errors,
  );
  if (typeof value.name !== 'string' || !POLICY_NAME.test(value.name)) {
    errors.push(
      `name: ${show(value.name)} is not a policy name (1-64 of a-z, 0-9, ".", "_", "-", starting with a letter or digit)`,
    );
  }
  if (
    value.description !== undefined &&
    (typeof value.description !== 'string' || value.description.length > 1000)
  ) {
    errors.push('description: must be a string of at most 1000 characters');
  }
  resourcesErrors(value.resources, errors);
  if (value.schedule !== undefined) errors.push(...scheduleErrors(value.schedule, 'schedule'));
  snapshotsErrors(value.snapshots, errors);
  if (value.replicas !== undefined) replicasErrors(value.replicas, errors);
  return errors;
}

/** Instance tags against a tag rule: all of `want` (any value for `*`). */
export function hasAllTags(tags: Record<string, string>, want: Record<string, string>): boolean {
  return Object.entries(want).every(([k, v]) => k in tags && (v === '*' || tags[k] === v));
}

/** Instance tags against an exclusion rule: any of `rule`. */
export function hasAnyTag(tags: Record<string, string>, rule: Record<string, string>): boolean {
  return Object.entries(rule).some(([k, v]) => k in tags && (v === '*' || tags[k] === v));
}

/** Whether a policy selects an instance (before device exclusions). */
export function selects(
  doc: PolicyDocument,
  instance: { instanceId: string; tags: Record<string, string> },
): boolean {
  const r = doc.resources;
  const byId = r.instances?.includes(instance.instanceId) ?? false;
  const byTag = r.tags !== undefined && Object.keys(r.tags).length > 0 && hasAllTags(instance.tags, r.tags);
  if (!byId && !byTag) return false;
  if (r.exclude?.instances?.includes(instance.instanceId)) return false;
  if (r.exclude?.tags && hasAnyTag(instance.tags, r.exclude.tags)) return false;
  return true;
}

/** The same device named two ways (`/dev/sdf` and `xvdf`, as Xen and Nitro show them) compare equal. */
export function sameDevice(a: string, b: string): boolean {
  const norm = (d: string) => d.replace(/^\/dev\//, '').replace(/^xvd/, 'sd');
  return norm(a) === norm(b);
}
