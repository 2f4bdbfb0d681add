import { describe, expect, it } from 'vitest';
import {
  hasAllTags,
  hasAnyTag,
  type PolicyDocument,
  policyErrors,
  sameDevice,
  selects,
} from '../src/policies/document.js';

type Fields = Record<string, unknown>;
/** A document to spoil: any key may be set, removed or given a wrong type. */
interface Example extends Fields {
  resources: Fields & { exclude: Fields };
  snapshots: Fields;
  replicas: Fields[];
}

/** The example, every field given. */
function example(): Example {
  return {
    name: 'prod-daily',
    description: 'Production, every night',
    resources: {
      accounts: ['production'],
      regions: ['us-east-1', 'eu-west-1'],
      instances: [],
      tags: { Environment: 'prod' },
      exclude: { instances: [], tags: { Backup: 'no' }, devices: ['/dev/sdg'] },
    },
    schedule: { daily: { times: ['02:00'] }, timezone: 'Europe/Berlin' },
    snapshots: { keep: 7, keepDays: 0 },
    replicas: [{ account: 'backup', region: 'eu-west-1', kmsKey: 'alias/backup', keep: 14 }],
  };
}

/** The errors of the example changed by `change`. */
function errorsOf(change: (doc: Example) => void): string[] {
  const doc = example();
  change(doc);
  return policyErrors(doc);
}

describe('policyErrors: valid documents', () => {
  it('accepts the full example', () => {
    expect(policyErrors(example())).toEqual([]);
  });

  it('accepts a minimal one (no schedule, no replicas, ids only)', () => {
    expect(
      policyErrors({
        name: 'web',
        resources: { accounts: ['production'], regions: ['us-east-1'], instances: ['i-0123456789abcdef0'] },
        snapshots: { keep: 1 },
      }),
    ).toEqual([]);
  });

  it('accepts the other schedule kinds, keep 1000, a key id, ARN and multi-region key', () => {
    expect(
      errorsOf((d) => {
        d.schedule = { cron: '0 2 * * *' };
        d.snapshots = { keep: 1000, keepDays: 36_500 };
        d.replicas = [
          { account: 'backup', region: 'eu-west-1', kmsKey: '1234abcd-12ab-34cd-56ef-1234567890ab', keep: 1 },
          {
            account: 'backup',
            region: 'us-west-2',
            kmsKey: 'arn:aws:kms:us-west-2:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab',
            shareKmsKey: 'alias/share',
            keep: 2,
          },
          { account: 'dr', region: 'eu-west-1', kmsKey: 'mrk-1234abcd12ab34cd56ef1234567890ab', keep: 3 },
        ];
      }),
    ).toEqual([]);
  });
});

describe('policyErrors: each error names its field', () => {
  it('refuses a document that is not a map', () => {
    expect(policyErrors([])).toEqual(['the policy must be a map (YAML or JSON object)']);
    expect(policyErrors('name: x')).toEqual(['the policy must be a map (YAML or JSON object)']);
    expect(policyErrors(null)).toEqual(['the policy must be a map (YAML or JSON object)']);
  });

  it('refuses unknown keys at the top level', () => {
    expect(errorsOf((d) => (d.retention = 7))).toEqual([
      '(top level): unknown key "retention" (allowed: name, description, resources, schedule, snapshots, replicas)',
    ]);
  });

  it('refuses unknown keys in resources, exclude, snapshots and replicas items', () => {
    expect(errorsOf((d) => (d.resources.region = 'us-east-1'))).toEqual([
      'resources: unknown key "region" (allowed: accounts, regions, instances, tags, exclude)',
    ]);
    expect(errorsOf((d) => (d.resources.exclude.device = ['/dev/sdh']))).toEqual([
      'resources.exclude: unknown key "device" (allowed: instances, tags, devices)',
    ]);
    expect(errorsOf((d) => (d.snapshots.keepdays = 3))).toEqual([
      'snapshots: unknown key "keepdays" (allowed: keep, keepDays)',
    ]);
    expect(errorsOf((d) => (d.replicas[0]!.kms = 'alias/x'))).toEqual([
      'replicas[0]: unknown key "kms" (allowed: account, region, kmsKey, shareKmsKey, keep)',
    ]);
  });

  it('requires resources and snapshots', () => {
    expect(errorsOf((d) => Reflect.deleteProperty(d, 'resources'))).toEqual([
      'resources: required, a map with accounts, regions, and instances and/or tags',
    ]);
    expect(errorsOf((d) => Reflect.deleteProperty(d, 'snapshots'))).toEqual([
      'snapshots: required, e.g. {keep: 7} (restore points kept per instance) and optionally keepDays',
    ]);
  });

  it('refuses a bad name', () => {
    expect(errorsOf((d) => (d.name = 'Prod Daily'))).toEqual([
      'name: "Prod Daily" is not a policy name (1-64 of a-z, 0-9, ".", "_", "-", starting with a letter or digit)',
    ]);
  });

  it('refuses empty account and region lists', () => {
    expect(errorsOf((d) => (d.resources.accounts = []))).toEqual([
      'resources.accounts: name at least 1 registered account name',
    ]);
    expect(errorsOf((d) => (d.resources.regions = []))).toEqual([
      'resources.regions: name at least 1 region name (e.g. us-east-1)',
    ]);
    expect(errorsOf((d) => Reflect.deleteProperty(d.resources, 'regions'))).toEqual([
      'resources.regions: must be a list of region name (e.g. us-east-1)s',
    ]);
  });

  it('refuses a bad region, naming its index', () => {
    expect(errorsOf((d) => (d.resources.regions = ['us-east-1', 'US-EAST-1', 'mars']))).toEqual([
      'resources.regions[1]: "US-EAST-1" is not a region name (e.g. us-east-1)',
      'resources.regions[2]: "mars" is not a region name (e.g. us-east-1)',
    ]);
  });

  it('refuses a bad instance id, in the selection and in the exclusions', () => {
    expect(errorsOf((d) => (d.resources.instances = ['i-0123456789abcdef0', 'i-xyz']))).toEqual([
      'resources.instances[1]: "i-xyz" is not a instance id',
    ]);
    expect(errorsOf((d) => (d.resources.exclude.instances = [42]))).toEqual([
      'resources.exclude.instances[0]: 42 is not a instance id',
    ]);
  });

  it('refuses duplicate entries', () => {
    expect(errorsOf((d) => (d.resources.accounts = ['production', 'backup', 'production']))).toEqual([
      'resources.accounts[2]: "production" is listed twice',
    ]);
    expect(errorsOf((d) => (d.resources.instances = ['i-0123456789abcdef0', 'i-0123456789abcdef0']))).toEqual(
      ['resources.instances[1]: "i-0123456789abcdef0" is listed twice'],
    );
    expect(errorsOf((d) => (d.resources.exclude.devices = ['/dev/sdg', 'xvdh', '/dev/sdg']))).toEqual([
      'resources.exclude.devices[2]: "/dev/sdg" is listed twice',
    ]);
  });

  it('refuses a bad device name in the exclusions', () => {
    expect(errorsOf((d) => (d.resources.exclude.devices = ['sdg']))).toEqual([
      'resources.exclude.devices[0]: "sdg" is not a device name (e.g. /dev/sdg)',
    ]);
  });

  it('requires instances or tags (a policy that selects nothing says so)', () => {
    const message =
      'resources: select instances by id (instances: [i-...]), by tags (tags: {Key: value}), or both';
    expect(errorsOf((d) => Reflect.deleteProperty(d.resources, 'tags'))).toEqual([message]);
    expect(errorsOf((d) => (d.resources.tags = {}))).toEqual([message]);
    expect(
      errorsOf((d) => {
        d.resources.tags = {};
        d.resources.instances = ['i-0123456789abcdef0'];
      }),
    ).toEqual([]);
  });

  it('refuses a tag value that is not a string', () => {
    expect(errorsOf((d) => (d.resources.tags = { Environment: 1 }))).toEqual([
      'resources.tags.Environment: must be a string of at most 256 characters ("*" for any value)',
    ]);
    expect(errorsOf((d) => (d.resources.exclude.tags = { Backup: false }))).toEqual([
      'resources.exclude.tags.Backup: must be a string of at most 256 characters ("*" for any value)',
    ]);
    expect(errorsOf((d) => (d.resources.tags = ['Environment']))).toEqual([
      'resources.tags: must be a map of tag key to value ("*" for any value)',
      'resources: select instances by id (instances: [i-...]), by tags (tags: {Key: value}), or both',
    ]);
  });

  it('refuses keep 0 and 1001, a fractional keep, and a negative keepDays', () => {
    expect(errorsOf((d) => (d.snapshots.keep = 0))).toEqual([
      'snapshots.keep: 0 must be a whole number from 1 to 1000',
    ]);
    expect(errorsOf((d) => (d.snapshots.keep = 1001))).toEqual([
      'snapshots.keep: 1001 must be a whole number from 1 to 1000',
    ]);
    expect(errorsOf((d) => (d.snapshots.keep = 2.5))).toEqual([
      'snapshots.keep: 2.5 must be a whole number from 1 to 1000',
    ]);
    expect(errorsOf((d) => (d.snapshots.keep = '7'))).toEqual([
      'snapshots.keep: "7" must be a whole number from 1 to 1000',
    ]);
    expect(errorsOf((d) => (d.snapshots.keepDays = -1))).toEqual([
      'snapshots.keepDays: -1 must be a whole number from 0 to 36500',
    ]);
    expect(errorsOf((d) => (d.replicas[0]!.keep = 0))).toEqual([
      'replicas[0].keep: 0 must be a whole number from 1 to 1000',
    ]);
  });

  it('refuses a bad KMS key', () => {
    expect(errorsOf((d) => (d.replicas[0]!.kmsKey = 'backup-key'))).toEqual([
      'replicas[0].kmsKey: "backup-key" is not a KMS key id, ARN or alias (alias/...)',
    ]);
    expect(errorsOf((d) => (d.replicas[0]!.shareKmsKey = 'alias/'))).toEqual([
      'replicas[0].shareKmsKey: "alias/" is not a KMS key id, ARN or alias (alias/...)',
    ]);
  });

  it('refuses a bad replica account and region', () => {
    expect(errorsOf((d) => (d.replicas[0] = { account: 'Backup', region: 'eu_west_1', keep: 1 }))).toEqual([
      'replicas[0].account: "Backup" is not a registered account name',
      'replicas[0].region: "eu_west_1" is not a region name (e.g. eu-west-1)',
    ]);
  });

  it('refuses the same replica target twice', () => {
    expect(
      errorsOf((d) =>
        d.replicas.push({ account: 'backup', region: 'eu-west-1', kmsKey: 'alias/other', keep: 3 }),
      ),
    ).toEqual(['replicas[1]: backup/eu-west-1 is a target twice']);
  });

  it('delegates the schedule to schedule.ts, prefixing its errors with `schedule`', () => {
    const errors = errorsOf((d) => (d.schedule = { daily: { times: ['25:00'] } }));
    expect(errors.length).toBeGreaterThan(0);
    for (const e of errors) expect(e.startsWith('schedule')).toBe(true);
  });

  it('names every wrong field at once', () => {
    expect(
      policyErrors({
        name: 'x',
        resources: { accounts: [], regions: ['us-east-1'], instances: ['i-1'] },
        snapshots: { keep: 0 },
        replicas: [{ account: 'backup', region: 'eu-west-1', kmsKey: 'nope', keep: 1 }],
      }),
    ).toEqual([
      'resources.accounts: name at least 1 registered account name',
      'resources.instances[0]: "i-1" is not a instance id',
      'snapshots.keep: 0 must be a whole number from 1 to 1000',
      'replicas[0].kmsKey: "nope" is not a KMS key id, ARN or alias (alias/...)',
    ]);
  });
});

describe('selection', () => {
  const doc = (resources: PolicyDocument['resources']): PolicyDocument => ({
    name: 'p',
    resources,
    snapshots: { keep: 1 },
  });
  const base = { accounts: ['production'], regions: ['us-east-1'] };
  const A = 'i-0aaaaaaaaaaaaaaa1';
  const B = 'i-0bbbbbbbbbbbbbbb2';
  const C = 'i-0ccccccccccccccc3';

  it('selects the union of ids and tag matches', () => {
    const d = doc({ ...base, instances: [A], tags: { Environment: 'prod' } });
    expect(selects(d, { instanceId: A, tags: {} })).toBe(true);
    expect(selects(d, { instanceId: B, tags: { Environment: 'prod' } })).toBe(true);
    expect(selects(d, { instanceId: C, tags: { Environment: 'dev' } })).toBe(false);
    expect(selects(d, { instanceId: C, tags: {} })).toBe(false);
  });

  it('requires all tags, compared exactly; `*` matches any value', () => {
    const d = doc({ ...base, tags: { Environment: 'prod', Team: '*' } });
    expect(selects(d, { instanceId: A, tags: { Environment: 'prod', Team: 'web', Other: 'x' } })).toBe(true);
    expect(selects(d, { instanceId: A, tags: { Environment: 'prod', Team: '' } })).toBe(true);
    expect(selects(d, { instanceId: A, tags: { Environment: 'prod' } })).toBe(false);
    expect(selects(d, { instanceId: A, tags: { Team: 'web' } })).toBe(false);
    expect(selects(d, { instanceId: A, tags: { Environment: 'Prod', Team: 'web' } })).toBe(false);
  });

  it('selects by id alone when there is no tag rule, and an empty tag rule selects no one', () => {
    expect(selects(doc({ ...base, instances: [A] }), { instanceId: B, tags: { Environment: 'prod' } })).toBe(
      false,
    );
    expect(selects(doc({ ...base, instances: [A], tags: {} }), { instanceId: B, tags: {} })).toBe(false);
  });

  it('excludes by id and by any tag, even an instance named by id', () => {
    const d = doc({
      ...base,
      instances: [A, C],
      tags: { Environment: 'prod' },
      exclude: { instances: [C], tags: { Backup: 'no', Temporary: '*' } },
    });
    expect(selects(d, { instanceId: A, tags: { Environment: 'prod' } })).toBe(true);
    expect(selects(d, { instanceId: C, tags: { Environment: 'prod' } })).toBe(false);
    expect(selects(d, { instanceId: A, tags: { Backup: 'no' } })).toBe(false);
    expect(selects(d, { instanceId: B, tags: { Environment: 'prod', Backup: 'no' } })).toBe(false);
    expect(selects(d, { instanceId: B, tags: { Environment: 'prod', Backup: 'yes' } })).toBe(true);
    expect(selects(d, { instanceId: B, tags: { Environment: 'prod', Temporary: 'until friday' } })).toBe(
      false,
    );
  });

  it('hasAllTags and hasAnyTag', () => {
    expect(hasAllTags({ a: '1', b: '2' }, { a: '1', b: '*' })).toBe(true);
    expect(hasAllTags({ a: '1' }, { a: '1', b: '*' })).toBe(false);
    expect(hasAllTags({ a: '1' }, {})).toBe(true);
    expect(hasAnyTag({ a: '1' }, { a: '2', b: '*' })).toBe(false);
    expect(hasAnyTag({ a: '1', b: '' }, { a: '2', b: '*' })).toBe(true);
    expect(hasAnyTag({ a: '1' }, { a: '1', b: '2' })).toBe(true);
    expect(hasAnyTag({ a: '1' }, {})).toBe(false);
  });

  it('sameDevice: /dev/sdf and xvdf are the same device', () => {
    expect(sameDevice('/dev/sdf', 'xvdf')).toBe(true);
    expect(sameDevice('xvdf', '/dev/sdf')).toBe(true);
    expect(sameDevice('/dev/xvdf', '/dev/sdf')).toBe(true);
    expect(sameDevice('/dev/sda1', '/dev/xvda1')).toBe(true);
    expect(sameDevice('/dev/sdf', '/dev/sdf')).toBe(true);
    expect(sameDevice('/dev/sdf', 'xvdg')).toBe(false);
    expect(sameDevice('/dev/sdf', '/dev/sdf1')).toBe(false);
  });
});
