/**
 * Issue 16, end to end: AWS accounts and the inventory, a real `lifeboat server` against a started sandbox (demo
 * seed: production with five instances over two regions), its AWS clients pointed there by AWS_ENDPOINT_URL and its
 * own identity the backup account's keys. A role in production whose trust policy requires the appliance's
 * ExternalId is assumed with it and refused without it; access keys of a second account come in on standard input;
 * `account check` names a permission taken off the role; the inventory covers two accounts and two regions, a
 * failing region is reported without stopping the others, and a terminated instance becomes gone. No secret shows
 * in an API answer, the CLI's output or the server's log.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import {
  DescribeImagesCommand,
  EC2Client,
  RunInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { CreateRoleCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { allFeatureActions } from '@lifeboat/appliance';
import { type RunningSandbox, startSandbox } from '@lifeboat/sandbox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_PASSWORD,
  Api,
  ApplianceProcess,
  BIN,
  Cli,
  problemOf,
  ROOT,
  stopAll,
  tempDir,
} from './appliance-process.js';

const ROLE = 'arn:aws:iam::111111111111:role/lifeboat';
let sandbox: RunningSandbox;
let appliance: ApplianceProcess;
let api: Api;
let token = '';
let cli: Cli;
let offer: { externalId: string; applianceArn: string | null; trustPolicy: Record<string, unknown> };
/** Every answer and output seen, searched for secrets at the end. */
const transcript: string[] = [];
const secrets: string[] = [];
const drInstances: Record<string, string> = {};

function keysOf(i: number) {
  const a = sandbox.accounts[i]!;
  return { accessKeyId: a.accessKeyId, secretAccessKey: a.secretAccessKey };
}

function ec2(i: number, region: string): EC2Client {
  return new EC2Client({ endpoint: sandbox.endpoint, region, credentials: keysOf(i), maxAttempts: 1 });
}

async function call<T = Record<string, unknown>>(method: string, path: string, body?: unknown) {
  const r = await api.call<T>(method, path, { token, ...(body !== undefined && { body }) });
  transcript.push(r.text);
  return r;
}

/** `lifeboat ARGS` as the CLI of this appliance, with `input` on standard input. */
function run(args: string[], input = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: cli.config,
        XDG_CONFIG_HOME: cli.config,
        LIFEBOAT_SERVER: appliance.origin,
        LIFEBOAT_TOKEN: token,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', fail);
    child.on('close', (code) => {
      transcript.push(stdout, stderr);
      done({ code: code ?? 128, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

async function ok(args: string[], input = '') {
  const r = await run(args, input);
  expect(r.code, `lifeboat ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
  return r;
}

interface SessionBody {
  id: string;
  kind: string;
  name: string;
  state: string;
  counts: Record<string, number>;
  tasks: Array<{
    id: string;
    kind: string;
    account: string;
    region: string;
    state: string;
    attempts: number;
    error: { code: string; message: string } | null;
    result: Record<string, unknown> | null;
  }>;
}

/** GET /sessions/{id} until the session ended (every 100 ms, at most 20 s). */
async function ended(id: string): Promise<SessionBody> {
  for (const stop = Date.now() + 20_000; Date.now() < stop; ) {
    const s = (await call<SessionBody>('GET', `/sessions/${id}`)).body;
    if (['succeeded', 'warning', 'failed', 'cancelled'].includes(s.state)) return s;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`session ${id} did not end in 20 s`);
}

async function launch(i: number, region: string, name: string): Promise<string> {
  const client = ec2(i, region);
  try {
    const images = await client.send(new DescribeImagesCommand({ Owners: ['amazon'] }));
    const r = await client.send(
      new RunInstancesCommand({
        ImageId: images.Images![0]!.ImageId,
        InstanceType: 't3.micro',
        MinCount: 1,
        MaxCount: 1,
        TagSpecifications: [
          {
            ResourceType: 'instance',
            Tags: [
              { Key: 'Name', Value: name },
              { Key: 'Env', Value: 'dr' },
            ],
          },
        ],
      }),
    );
    return r.Instances![0]!.InstanceId!;
  } finally {
    client.destroy();
  }
}

beforeAll(async () => {
  sandbox = await startSandbox({ fast: true, seed: 'demo' });
  const backup = keysOf(1);
  secrets.push(backup.secretAccessKey, keysOf(2).secretAccessKey);
  // The dr account (333...) has instances of its own in both regions.
  drInstances['us-east-1'] = await launch(2, 'us-east-1', 'dr-east');
  drInstances['eu-west-1'] = await launch(2, 'eu-west-1', 'dr-west');
  appliance = await ApplianceProcess.start({
    data: `${tempDir('accounts')}/data`,
    env: {
      AWS_ACCESS_KEY_ID: backup.accessKeyId,
      AWS_SECRET_ACCESS_KEY: backup.secretAccessKey,
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL: sandbox.endpoint,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    // No scheduled refresh: the tests start them.
    args: ['--inventory-interval', '0'],
  });
  api = new Api(appliance.api);
  token = await api.login('admin', ADMIN_PASSWORD);
  cli = new Cli(appliance.origin);
}, 120_000);

afterAll(async () => {
  await appliance?.stop();
  await sandbox?.close();
  await stopAll();
});

describe('accounts by role (AssumeRole with the ExternalId)', () => {
  it('offers an ExternalId and the trust policy naming the appliance; the role is made with it', async () => {
    const r = await call<typeof offer>('POST', '/accounts/external-id');
    expect(r.status, r.text).toBe(200);
    offer = r.body;
    expect(offer.applianceArn).toBe('arn:aws:iam::222222222222:root');
    expect(JSON.stringify(offer.trustPolicy)).toContain(offer.externalId);
    const iam = new IAMClient({ endpoint: sandbox.endpoint, region: 'us-east-1', credentials: keysOf(0) });
    await iam.send(
      new CreateRoleCommand({
        RoleName: 'lifeboat',
        AssumeRolePolicyDocument: JSON.stringify(offer.trustPolicy),
      }),
    );
    await iam.send(
      new PutRolePolicyCommand({
        RoleName: 'lifeboat',
        PolicyName: 'lifeboat',
        PolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: allFeatureActions(), Resource: '*' }],
        }),
      }),
    );
    iam.destroy();
    // The sandbox itself enforces the trust policy: the appliance's identity without the ExternalId is refused.
    const sts = new STSClient({ endpoint: sandbox.endpoint, region: 'us-east-1', credentials: keysOf(1) });
    await expect(
      sts.send(new AssumeRoleCommand({ RoleArn: ROLE, RoleSessionName: 'probe' })),
    ).rejects.toMatchObject({
      name: 'AccessDenied',
    });
    const good = await sts.send(
      new AssumeRoleCommand({ RoleArn: ROLE, RoleSessionName: 'probe', ExternalId: offer.externalId }),
    );
    expect(good.AssumedRoleUser?.Arn).toMatch(/assumed-role\/lifeboat\/probe$/);
    sts.destroy();
  });

  it('refuses the role with another ExternalId, or with none (a new one the trust policy does not name)', async () => {
    const other = (await call<typeof offer>('POST', '/accounts/external-id')).body.externalId;
    const wrong = await call('POST', '/accounts', { name: 'prod', roleArn: ROLE, externalId: other });
    expect(problemOf(wrong, 400, 'VALIDATION_FAILED').detail).toMatch(
      /AWS refused.*sts:ExternalId.*AccessDenied.*sts:AssumeRole/,
    );
    const none = await call('POST', '/accounts', { name: 'prod', roleArn: ROLE });
    expect(problemOf(none, 400, 'VALIDATION_FAILED').detail).toMatch(/AccessDenied/);
    expect((await call('GET', '/accounts/prod')).status).toBe(404);
  });

  it('adds the role with the right ExternalId (CLI), verified through STS', async () => {
    const r = await ok([
      'account',
      'add',
      'prod',
      '--role-arn',
      ROLE,
      '--external-id',
      offer.externalId,
      '--region',
      'us-east-1,eu-west-1',
    ]);
    expect(r.stdout).toMatch(
      /added account prod: AWS account 111111111111, role arn:aws:iam::111111111111:role\/lifeboat/,
    );
    expect(r.stdout).toContain(`ExternalId: ${offer.externalId}`);
    const a = await call<{ kind: string; awsAccountId: string; externalId: string; regions: string[] }>(
      'GET',
      '/accounts/prod',
    );
    expect(a.body).toMatchObject({
      kind: 'role',
      awsAccountId: '111111111111',
      externalId: offer.externalId,
      regions: ['eu-west-1', 'us-east-1'],
    });
  });
});

describe('accounts by access keys', () => {
  it('takes keys from standard input (two lines), verifies them, never answers or prints them', async () => {
    const dr = keysOf(2);
    const r = await ok(
      [
        '--json',
        'account',
        'add',
        'dr',
        '--access-keys-from-stdin',
        '--region',
        'us-east-1',
        '--region',
        'eu-west-1,ap-south-1',
      ],
      `${dr.accessKeyId}\n${dr.secretAccessKey}\n`,
    );
    const a = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(a).toMatchObject({
      kind: 'keys',
      awsAccountId: '333333333333',
      accessKeyHint: dr.accessKeyId.slice(-4),
    });
    expect(r.stdout).not.toContain(dr.accessKeyId);
    // From a file, as `aws iam create-access-key` prints them; never from argv.
    const file = `${tempDir('keys')}/keys.json`;
    writeFileSync(
      file,
      JSON.stringify({ AccessKey: { AccessKeyId: dr.accessKeyId, SecretAccessKey: dr.secretAccessKey } }),
      { mode: 0o600 },
    );
    const fromFile = await ok(['account', 'add', 'dr-file', '--access-keys-file', file]);
    expect(fromFile.stdout).toMatch(/added account dr-file: AWS account 333333333333, access keys …\w{4}/);
    await ok(['account', 'remove', 'dr-file']);
    const argv = await run(['account', 'add', 'x', '--access-key', dr.accessKeyId]);
    expect(argv.code).not.toBe(0);
    const bad = await run(['account', 'add', 'nokeys', '--access-keys-from-stdin'], 'just-one-line\n');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/expected two lines/);
    const refused = await call('POST', '/accounts', {
      name: 'fake',
      accessKeys: { accessKeyId: 'AKIAFAKEFAKEFAKEFAKE', secretAccessKey: 'not-a-real-secret-key-at-all' },
    });
    problemOf(refused, 400, 'VALIDATION_FAILED');
  });
});

describe('inventory', () => {
  it('a refresh session of 2 accounts × 2 regions (+ a refused region) under throttling and 5xx: retried, isolated, failed', async () => {
    // prod × us-east-1 only: its DescribeInstances throttled twice, then its DescribeVolumes answers 503 once.
    sandbox.clearFaults();
    const where = { service: 'ec2', account: '111111111111', region: 'us-east-1' };
    sandbox.addFault({ ...where, operation: 'DescribeInstances', kind: 'throttle', count: 2 });
    sandbox.addFault({ ...where, operation: 'DescribeVolumes', kind: 'error5xx', status: 503, count: 1 });
    const started = Date.now();
    let session: SessionBody;
    try {
      const r = await call<SessionBody>('POST', '/inventory/refresh', {});
      expect(r.status, r.text).toBe(202);
      expect(r.body).toMatchObject({ kind: 'inventory', name: 'inventory refresh' });
      expect(r.body.tasks.map((t) => `${t.kind} ${t.account}/${t.region}`).sort()).toEqual([
        'inventory.region dr/ap-south-1',
        'inventory.region dr/eu-west-1',
        'inventory.region dr/us-east-1',
        'inventory.region prod/eu-west-1',
        'inventory.region prod/us-east-1',
      ]);
      session = await ended(r.body.id);
    } finally {
      sandbox.clearFaults();
    }
    expect(Date.now() - started).toBeLessThan(20_000);
    // dr × ap-south-1 is a region this AWS (the sandbox) refuses: failed, with AWS's code; never retried.
    expect(session.state).toBe('failed');
    const task = (account: string, region: string) =>
      session.tasks.find((t) => t.account === account && t.region === region)!;
    const refused = task('dr', 'ap-south-1');
    expect(refused).toMatchObject({ state: 'failed', error: { code: 'AuthFailure' } });
    expect(refused.error!.message).toMatch(/^EC2 in ap-south-1: AuthFailure: /);
    // The throttled and 5xx region succeeded after retries: 4 EC2 attempts, each retry in the session's log.
    const throttled = task('prod', 'us-east-1');
    expect(throttled).toMatchObject({ state: 'succeeded', error: null, attempts: 1 });
    expect(throttled.result).toMatchObject({ instances: 3, gone: 0, awsAttempts: 4 });
    const log = await call<{ items: Array<{ level: string; message: string }> }>(
      'GET',
      `/sessions/${session.id}/log?task=${throttled.id}`,
    );
    const retries = log.body.items.filter((l) => l.level === 'warn').map((l) => l.message);
    expect(retries).toEqual([
      expect.stringMatching(/^throttled \(RequestLimitExceeded 503\): attempt 2 in \d+ ms$/),
      expect.stringMatching(/^throttled \(RequestLimitExceeded 503\): attempt 3 in \d+ ms$/),
      expect.stringMatching(/^server error \(Unavailable 503\): attempt 4 in \d+ ms$/),
    ]);
    expect(log.body.items.map((l) => l.message)).toContainEqual('3 instances, 0 gone (4 EC2 attempts)');
    // A failure never fails its neighbours.
    for (const [account, region, instances] of [
      ['prod', 'eu-west-1', 2],
      ['dr', 'us-east-1', 1],
      ['dr', 'eu-west-1', 1],
    ] as const) {
      expect(task(account, region), `${account}/${region}`).toMatchObject({
        state: 'succeeded',
        result: { instances, awsAttempts: 1 },
      });
    }
    expect(session.counts).toMatchObject({ succeeded: 4, failed: 1 });
    // The same refresh waited for over HTTP: its outcome per account × region.
    const waited = await call<{ sessionId: string; state: string; regions: Array<Record<string, unknown>> }>(
      'POST',
      '/inventory/refresh',
      { account: 'dr', wait: true },
    );
    expect(waited.status, waited.text).toBe(200);
    expect(waited.body.state).toBe('failed');
    expect(waited.body.regions).toEqual([
      expect.objectContaining({
        account: 'dr',
        region: 'ap-south-1',
        ok: false,
        error: expect.stringMatching(/AuthFailure/),
      }),
      expect.objectContaining({ account: 'dr', region: 'eu-west-1', ok: true, instances: 1 }),
      expect.objectContaining({ account: 'dr', region: 'us-east-1', ok: true, instances: 1 }),
    ]);
    // The CLI follows the session like `session show --follow`: exit 8 (failed), then each account × region.
    const refresh = await run(['instance', 'refresh', '--wait']);
    expect(refresh.code, refresh.stderr).toBe(8);
    expect(refresh.stdout).toMatch(/^inventory refresh: session [0-9a-f-]{36}\n/);
    expect(refresh.stdout).toMatch(/session [0-9a-f-]{36} failed \(4 succeeded, 1 failed\)/);
    expect(refresh.stdout).toMatch(/dr\s+ap-south-1\s+FAILED: AuthFailure: /);
    expect(refresh.stdout).toMatch(/prod\s+eu-west-1\s+2 instances/);
    expect(refresh.stdout).toMatch(/prod\s+us-east-1\s+3 instances/);
    expect(refresh.stdout).toMatch(/dr\s+us-east-1\s+1 instances/);
    expect(refresh.stdout).toMatch(/dr\s+eu-west-1\s+1 instances/);
    const one = await run(['instance', 'refresh', '--wait', '--account', 'prod']);
    expect(one.code, one.stderr).toBe(0);
    const started2 = await ok(['instance', 'refresh', '--account', 'prod', '--region', 'eu-west-1']);
    expect(started2.stdout).toMatch(
      /inventory refresh started: session ([0-9a-f-]{36}) \(1 account × region\)/,
    );
    const id = /session ([0-9a-f-]{36})/.exec(started2.stdout)![1]!;
    expect((await ended(id)).state).toBe('succeeded');
    const list = JSON.parse((await ok(['--json', 'instance', 'list'])).stdout) as Array<{
      account: string;
      region: string;
      name: string;
      state: string;
      vpcId: string | null;
      availabilityZone: string;
      volumes: Array<{ device: string; sizeGiB: number; volumeId: string }>;
      tags: Record<string, string>;
    }>;
    const names = list.map((i) => `${i.account}/${i.region}/${i.name}`).sort();
    expect(names).toEqual([
      'dr/eu-west-1/dr-west',
      'dr/us-east-1/dr-east',
      'prod/eu-west-1/batch-dev',
      'prod/eu-west-1/web-eu-1',
      'prod/us-east-1/api-dev',
      'prod/us-east-1/db-1',
      'prod/us-east-1/web-1',
    ]);
    const db = list.find((i) => i.name === 'db-1')!;
    expect(db.volumes.map((v) => v.device).sort()).toEqual(['/dev/sdf', '/dev/sdg', '/dev/xvda']);
    expect(db.vpcId).toMatch(/^vpc-/);
    expect(db.tags).toMatchObject({ App: 'db', Backup: 'daily' });
    expect(list.find((i) => i.name === 'batch-dev')!.state).toBe('stopped');
    // Filters, in the API and the CLI.
    const web = await call<{ items: Array<{ name: string }> }>(
      'GET',
      '/instances?tag=App%3Dweb&tag=Environment%3Dprod',
    );
    expect(web.body.items.map((i) => i.name).sort()).toEqual(['web-1', 'web-eu-1']);
    const table = await ok(['instance', 'list', '--account', 'prod', '--region', 'eu-west-1']);
    expect(table.stdout).toMatch(/web-eu-1/);
    expect(table.stdout).not.toMatch(/web-1 /);
    const show = await ok(['account', 'show', 'dr']);
    expect(show.stdout).toMatch(/ap-south-1\s+never read; last attempt .* FAILED: /);
    expect(show.stdout).toMatch(/eu-west-1\s+1 instances, read /);
    expect(table.stderr).toBe('');
    expect((await ok(['instance', 'list'])).stderr).toMatch(
      /warning: account dr region ap-south-1: the last refresh failed \(never read\)/,
    );
  });

  it('records the error of a region that fails, shows it, and still reads the others', async () => {
    sandbox.setPermissions('arn:aws:iam::333333333333:root', ['ec2:DescribeRegions']);
    try {
      const r = await run(['instance', 'refresh', '--wait', '--account', 'dr']);
      expect(r.code).toBe(8);
      expect(r.stdout).toMatch(/dr\s+us-east-1\s+FAILED: .*UnauthorizedOperation/);
    } finally {
      sandbox.setPermissions('arn:aws:iam::333333333333:root', null);
    }
    const list = await ok(['instance', 'list', '--account', 'dr']);
    expect(list.stdout).toMatch(/dr-east/); // the last good read is kept
    expect(list.stderr).toMatch(
      /warning: account dr region us-east-1: the last refresh failed .*UnauthorizedOperation/,
    );
    const show = await ok(['account', 'show', 'dr']);
    expect(show.stdout).toMatch(/us-east-1\s+1 instances, read .* FAILED: .*UnauthorizedOperation/);
    await run(['instance', 'refresh', '--wait', '--account', 'dr']);
    expect((await ok(['instance', 'list', '--account', 'dr', '--region', 'us-east-1'])).stderr).toBe('');
  });

  it('an instance terminated in AWS becomes gone after a refresh, and is kept', async () => {
    const client = ec2(2, 'eu-west-1');
    await client.send(new TerminateInstancesCommand({ InstanceIds: [drInstances['eu-west-1']!] }));
    client.destroy();
    const r = await call<{ regions: Array<{ account: string; region: string; gone: number }> }>(
      'POST',
      '/inventory/refresh',
      { account: 'dr', region: 'eu-west-1', wait: true },
    );
    expect(r.status, r.text).toBe(200);
    expect(r.body.regions).toEqual([
      expect.objectContaining({ account: 'dr', region: 'eu-west-1', gone: 1 }),
    ]);
    const gone = await call<{ items: Array<{ instanceId: string; state: string; goneAt: string }> }>(
      'GET',
      '/instances?state=gone',
    );
    expect(gone.body.items).toEqual([
      expect.objectContaining({
        instanceId: drInstances['eu-west-1'],
        state: 'gone',
        goneAt: expect.any(String),
      }),
    ]);
    expect((await ok(['instance', 'list', '--account', 'dr'])).stdout).toMatch(/dr-west.*gone/);
  });
});

describe('account check', () => {
  it('says every feature is ok, then names the permission removed from the role', async () => {
    const first = await ok(['account', 'check', 'prod']);
    expect(first.stdout).not.toMatch(/missing/);
    const iam = new IAMClient({ endpoint: sandbox.endpoint, region: 'us-east-1', credentials: keysOf(0) });
    await iam.send(
      new PutRolePolicyCommand({
        RoleName: 'lifeboat',
        PolicyName: 'lifeboat',
        PolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Action: allFeatureActions().filter((a) => a !== 'ec2:CreateSnapshots'),
              Resource: '*',
            },
          ],
        }),
      }),
    );
    iam.destroy();
    const r = await ok(['account', 'check', 'prod']);
    expect(r.stdout).toMatch(/snapshots\s+missing ec2:CreateSnapshots/);
    expect(r.stdout).toMatch(/image-backup\s+missing ec2:CreateSnapshots/);
    expect(r.stdout).toMatch(/restore\s+ok/);
    const json = JSON.parse((await ok(['--json', 'account', 'check', 'prod'])).stdout) as {
      features: Array<{ feature: string; missing: string[] }>;
    };
    expect(json.features.find((f) => f.feature === 'snapshots')!.missing).toEqual(['ec2:CreateSnapshots']);
  });

  it('a viewer reads accounts and instances but neither checks, refreshes nor adds', async () => {
    await api.addUser(token, 'vera', 'viewer');
    const vera = await api.login('vera', 'vera-password');
    expect((await api.call('GET', '/accounts', { token: vera })).status).toBe(200);
    expect((await api.call('GET', '/instances', { token: vera })).status).toBe(200);
    problemOf(await api.call('POST', '/accounts/prod/check', { token: vera }), 403, 'FORBIDDEN');
    problemOf(await api.call('POST', '/inventory/refresh', { token: vera, body: {} }), 403, 'FORBIDDEN');
  });
});

describe('secrets', () => {
  it('no access key secret in any answer, CLI output, audit entry or server log; removal forgets the keys', async () => {
    const audit = await call('GET', '/audit?limit=500');
    expect(audit.text).toMatch(/account\.create/);
    const list = await call('GET', '/accounts');
    expect(list.text).not.toMatch(/sealed|lb\d:/);
    const table = await ok(['account', 'list']);
    expect(table.stdout).toMatch(
      /dr\s+333333333333\s+keys …\w{4}\s+ap-south-1,eu-west-1,us-east-1\s+\d+ instances, 1 region\(s\) failing/,
    );
    expect(table.stdout).toMatch(
      /prod\s+111111111111\s+role lifeboat\s+eu-west-1,us-east-1\s+5 instances\s+missing for snapshots,image-backup/,
    );
    await ok(['account', 'remove', 'dr']);
    expect((await call('GET', '/accounts/dr')).status).toBe(404);
    expect((await call<{ items: unknown[] }>('GET', '/instances?account=dr')).body.items).toEqual([]);
    const everything = [...transcript, appliance.stdout, appliance.stderr].join('\n');
    for (const s of secrets) expect(everything).not.toContain(s);
  });
});
