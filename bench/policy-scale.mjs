#!/usr/bin/env node
// A backup policy over 500 instances with 2 volumes each (issue 17, "Proof", "Scale"): `lifeboat server` as a
// process over the sandbox (every delay at zero), beside a bare AWS SDK v3 function that makes the same EC2 calls,
// in one run, taking turns (bare, appliance, bare, appliance, ...) so that the machine's noise hits both.
//
//   npm run build && node bench/policy-scale.mjs [--instances 500] [--runs 3] [--out bench/results]
//                                                [--wait-quiet SECONDS] [--cpu-prof DIR] [--no-write]
//
// Measured, per run: wall time (run 1: first snapshots; runs 2..N: steady state, each also deleting the previous
// point's snapshots), the appliance's CPU-seconds (/proc/<pid>/stat utime+stime), the sandbox's and the bare
// function's (process.cpuUsage() of this process, which does nothing else meanwhile); the appliance's RSS
// (/proc/<pid>/status VmRSS, sampled every 100 ms: idle before run 1, peak during the runs); the session's AWS
// calls by API (GET /sessions/{id}/aws-calls) and the bare function's, per instance. Targets: steady-state
// session ≤ 1.5× the bare function's time, ≤ 6 EC2 calls per instance, RSS growth (peak − idle) ≤ 64 MiB.
// Each run also records the CPU-seconds of every other process on the machine (/proc/*/stat, this benchmark's
// three processes left out), so that a busy machine shows; `--wait-quiet S` waits before each timed run, at most S
// seconds (untimed, reported), until the others used less than 10 % of one core over a second.
// `--cpu-prof DIR` starts the server with `node --cpu-prof --cpu-prof-dir=DIR` (written when it exits at the end).
// The report is printed and written to bench/results/policy-scale-<UTC timestamp>.md.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  CreateSnapshotCommand,
  CreateSnapshotsCommand,
  CreateTagsCommand,
  CreateVolumeCommand,
  DeleteSnapshotCommand,
  DescribeInstancesCommand,
  DescribeSnapshotsCommand,
  DescribeVolumesCommand,
  EC2Client,
  RegisterImageCommand,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import { ORPHAN_GUARD, stopOnExit } from './lib/servers.mjs';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const { values } = parseArgs({
  options: {
    instances: { type: 'string', default: '500' },
    runs: { type: 'string', default: '3' },
    out: { type: 'string', default: 'bench/results' },
    'cpu-prof': { type: 'string' },
    'no-write': { type: 'boolean', default: false },
    'wait-quiet': { type: 'string', default: '0' },
  },
});
const INSTANCES = Number(values.instances);
const RUNS = Number(values.runs);
const ROOT = resolve(import.meta.dirname, '..');
const BIN = join(ROOT, 'packages/cli/bin/lifeboat.js');
const SANDBOX_DIST = join(ROOT, 'packages/sandbox/dist/index.js');
const REGION = 'us-east-1';
const PASSWORD = 'bench-admin-password-1';
const POLICY = 'bench-scale';
/** The appliance's limits (DEFAULT_JOB_LIMITS: 4 tasks per account × region): the bare function's workers. */
const WORKERS = 4;
/** The appliance's batched waiter (SnapshotEnv defaults): first look a second after joining, backing off to 15 s. */
const POLL_MS = 1000;
const MAX_POLL_MS = 15_000;
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
const MiB = 2 ** 20;

const work = mkdtempSync(join(tmpdir(), 'bench-policy-scale-'));
const children = [];
stopOnExit(children, () => rmSync(work, { recursive: true, force: true }));
const log = (s) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`);

// ---------------------------------------------------------------------------------------------------------------
// Processes: the sandbox and the appliance, each a child of this one.

/** A clean environment for children (no NODE_EXTRA_CA_CERTS: it costs every Node process 0.04 s here). */
const childEnv = (extra) => ({
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: process.env.HOME ?? tmpdir(),
  ...extra,
});

function lineFrom(child, pattern, what) {
  return new Promise((done, fail) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error(`${what} did not start in 60 s:\n${out}`)), 60_000);
    child.stdout.setEncoding('utf8').on('data', (s) => {
      out += s;
      const m = pattern.exec(out);
      if (m) {
        clearTimeout(timer);
        done(m);
      }
    });
    child.once('exit', (code) => fail(new Error(`${what} exited ${code}:\n${out}`)));
  });
}

async function startSandbox() {
  const script = `import { startSandbox } from ${JSON.stringify(SANDBOX_DIST)};
    ${ORPHAN_GUARD}
    const sb = await startSandbox({ dataDir: ${JSON.stringify(join(work, 'sandbox'))}, fast: true, adminToken: 'bench' });
    console.log(JSON.stringify({ endpoint: sb.endpoint, accounts: sb.accounts }));`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    env: childEnv({}),
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  children.push(child);
  child.stdin.on('error', () => {});
  const m = await lineFrom(child, /^(\{.*\})$/m, 'the sandbox');
  return { child, pid: child.pid, ...JSON.parse(m[1]) };
}

async function startAppliance(sandbox, keys) {
  const args = [BIN, 'server', '--data', join(work, 'appliance'), '--listen', '127.0.0.1:0'];
  args.push('--inventory-interval', '0');
  const env = childEnv({
    LIFEBOAT_ADMIN_PASSWORD: PASSWORD,
    AWS_REGION: REGION,
    AWS_ENDPOINT_URL: sandbox.endpoint,
    AWS_ACCESS_KEY_ID: keys.accessKeyId,
    AWS_SECRET_ACCESS_KEY: keys.secretAccessKey,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  });
  // Node 20 refuses --cpu-prof in NODE_OPTIONS: given on the command line, written when the server exits.
  if (values['cpu-prof']) args.unshift('--cpu-prof', `--cpu-prof-dir=${resolve(values['cpu-prof'])}`);
  const child = spawn(process.execPath, args, { env, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s) => {
    stderr = (stderr + s).slice(-20_000);
  });
  const m = await lineFrom(child, /lifeboat appliance: (\S+\/api\/v1) \(data /, 'the appliance');
  return { child, pid: child.pid, api: m[1], stderr: () => stderr };
}

/** A JSON call to the appliance over node:http (no client timeout: a run with ?wait=true answers at its end). */
function call(base, method, path, { token, body } = {}) {
  return new Promise((done, fail) => {
    const headers = {};
    if (token) headers.authorization = `Bearer ${token}`;
    const data = body === undefined ? undefined : JSON.stringify(body);
    if (data) headers['content-type'] = 'application/json';
    const req = request(`${base}${path}`, { method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (s) => (text += s));
      res.on('end', () => {
        const json = /json/.test(res.headers['content-type'] ?? '') && text ? JSON.parse(text) : text;
        done({ status: res.statusCode, body: json, text });
      });
    });
    req.on('error', fail);
    req.end(data);
  });
}

async function ok(base, token, method, path, body, status = [200, 201, 202]) {
  const r = await call(base, method, path, { token, body });
  if (!status.includes(r.status)) throw new Error(`${method} ${path}: ${r.status} ${r.text.slice(0, 2000)}`);
  return r.body;
}

/** utime + stime of a process, in seconds. */
function cpuOf(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

function rssOf(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? (Number(m[1]) * 1024) / MiB : 0;
}

/** CPU-seconds used so far by every process but `ours` (ended ones drop out: read it as a lower bound). */
function othersCpu(ours) {
  let ticks = 0;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || ours.has(Number(d))) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]);
    } catch {
      // gone meanwhile
    }
  }
  return ticks / CLK_TCK;
}

/** Waits (at most `seconds`) until the other processes used < 10 % of a core over a second; the seconds waited. */
async function waitQuiet(ours, seconds) {
  const start = performance.now();
  while ((performance.now() - start) / 1000 < seconds) {
    const before = othersCpu(ours);
    await new Promise((r) => setTimeout(r, 1000));
    if (othersCpu(ours) - before < 0.1) break;
  }
  return (performance.now() - start) / 1000;
}

// ---------------------------------------------------------------------------------------------------------------
// The fleet: INSTANCES instances of a 1 GiB image, each with a second 1 GiB volume, tagged Bench: yes.

function ec2Of(sandbox, keys, options = {}) {
  return new EC2Client({
    endpoint: sandbox.endpoint,
    region: REGION,
    credentials: { ...keys }, // the SDK marks the object it is given ($source)
    ...options,
  });
}

async function makeFleet(ec2) {
  const zone = `${REGION}a`;
  const v = await ec2.send(new CreateVolumeCommand({ AvailabilityZone: zone, Size: 1, VolumeType: 'gp3' }));
  const s = await ec2.send(new CreateSnapshotCommand({ VolumeId: v.VolumeId, Description: 'bench root' }));
  const image = await ec2.send(
    new RegisterImageCommand({
      Name: 'bench-1gib-root',
      RootDeviceName: '/dev/xvda',
      Architecture: 'x86_64',
      BlockDeviceMappings: [
        { DeviceName: '/dev/xvda', Ebs: { SnapshotId: s.SnapshotId, VolumeType: 'gp3' } },
      ],
    }),
  );
  const tags = [{ Key: 'Bench', Value: 'yes' }];
  for (let made = 0, batch = 0; made < INSTANCES; batch++) {
    const n = Math.min(100, INSTANCES - made);
    await ec2.send(
      new RunInstancesCommand({
        ImageId: image.ImageId,
        InstanceType: 't3.micro',
        MinCount: n,
        MaxCount: n,
        Placement: { AvailabilityZone: zone },
        BlockDeviceMappings: [
          { DeviceName: '/dev/sdf', Ebs: { VolumeSize: 1, VolumeType: 'gp3', DeleteOnTermination: true } },
        ],
        TagSpecifications: [
          { ResourceType: 'instance', Tags: [...tags, { Key: 'Name', Value: `bench-${batch}` }] },
          { ResourceType: 'volume', Tags: tags },
        ],
      }),
    );
    made += n;
  }
  // Both volumes of every instance attached? (RunInstances attaches the mapping's volumes.)
  const { instances, volumes } = await readFleet(ec2, () => {});
  const bench = instances.filter((i) => (i.Tags ?? []).some((t) => t.Key === 'Bench' && t.Value === 'yes'));
  const attached = bench.reduce((n, i) => n + (i.BlockDeviceMappings ?? []).length, 0);
  if (bench.length !== INSTANCES || attached !== 2 * INSTANCES)
    throw new Error(`fleet: ${bench.length} instances, ${attached} volumes attached`);
  return { imageId: image.ImageId, instances: bench.length, volumes: volumes.size };
}

// ---------------------------------------------------------------------------------------------------------------
// The bare function: the appliance's EC2 calls, made directly.

/** DescribeInstances + DescribeVolumes pages of 500, as the appliance's planner reads a region. */
async function readFleet(ec2, count) {
  const instances = [];
  const volumes = new Map();
  let token;
  do {
    count('DescribeInstances');
    const page = await ec2.send(new DescribeInstancesCommand({ MaxResults: 500, NextToken: token }));
    for (const r of page.Reservations ?? []) instances.push(...(r.Instances ?? []));
    token = page.NextToken;
  } while (token);
  do {
    count('DescribeVolumes');
    const page = await ec2.send(new DescribeVolumesCommand({ MaxResults: 500, NextToken: token }));
    for (const v of page.Volumes ?? []) volumes.set(v.VolumeId, v);
    token = page.NextToken;
  } while (token);
  return { instances: instances.filter((i) => i.State?.Name !== 'terminated'), volumes };
}

/** At most `n` holders; a holder coming back from a wait is served before new ones (the engine's unparking). */
class Slots {
  constructor(n) {
    this.free = n;
    this.first = [];
    this.queue = [];
  }
  take(priority = false) {
    if (this.free > 0) {
      this.free--;
      return Promise.resolve();
    }
    return new Promise((r) => (priority ? this.first : this.queue).push(r));
  }
  give() {
    const next = this.first.shift() ?? this.queue.shift();
    if (next) next();
    else this.free++;
  }
}

/**
 * Batched DescribeSnapshots as the appliance's SnapshotLookup does it: waiters are due a second after they join
 * (backing off to 15 s while pending), one-off lookups join the next request within 20 ms, and every waiting id is
 * asked for in the same request (by the snapshot-id filter, 200 ids a request, pages of 1000).
 */
class BareLookup {
  constructor(ec2, count) {
    this.ec2 = ec2;
    this.count = count;
    this.waiters = [];
    this.asks = [];
    this.running = false;
    this.wake = null;
  }
  describe(ids) {
    return new Promise((resolve, reject) => {
      this.asks.push({ ids, resolve, reject });
      this.kick();
    });
  }
  waitDone(id) {
    return new Promise((resolve, reject) => {
      const now = Date.now();
      this.waiters.push({ id, due: now + POLL_MS, backoff: POLL_MS, resolve, reject });
      this.kick();
    });
  }
  kick() {
    if (this.running) return this.wake?.();
    this.running = true;
    void this.loop();
  }
  async loop() {
    try {
      while (this.waiters.length > 0 || this.asks.length > 0) {
        if (this.asks.length === 0) {
          const wait = Math.min(...this.waiters.map((w) => w.due)) - Date.now();
          if (wait > 0) {
            await new Promise((r) => {
              const t = setTimeout(r, wait);
              this.wake = () => {
                clearTimeout(t);
                r();
              };
            });
            this.wake = null;
            continue;
          }
        } else await new Promise((r) => setTimeout(r, 20));
        await this.poll();
      }
    } finally {
      this.running = false;
    }
  }
  async poll() {
    const asks = this.asks.splice(0);
    const waiters = [...this.waiters];
    const ids = [...new Set([...asks.flatMap((a) => a.ids), ...waiters.map((w) => w.id)])];
    const byId = new Map();
    try {
      for (let i = 0; i < ids.length; i += 200) {
        let token;
        do {
          this.count('DescribeSnapshots');
          const page = await this.ec2.send(
            new DescribeSnapshotsCommand({
              OwnerIds: ['self'],
              Filters: [{ Name: 'snapshot-id', Values: ids.slice(i, i + 200) }],
              MaxResults: 1000,
              NextToken: token,
            }),
          );
          for (const s of page.Snapshots ?? []) byId.set(s.SnapshotId, s);
          token = page.NextToken;
        } while (token);
      }
    } catch (err) {
      for (const a of asks) a.reject(err);
      for (const w of waiters) w.reject(err);
      this.waiters = this.waiters.filter((w) => !waiters.includes(w));
      return;
    }
    for (const a of asks) a.resolve(byId);
    const now = Date.now();
    for (const w of waiters) {
      const s = byId.get(w.id);
      if (s && s.State !== 'pending') {
        this.waiters = this.waiters.filter((x) => x !== w);
        w.resolve(s);
      } else {
        w.backoff = Math.min(w.backoff * 2, MAX_POLL_MS);
        w.due = now + w.backoff;
      }
    }
  }
}

/**
 * The phase-2 payload: ~10 tags (a seal and configuration slices), ~850 characters, about what the appliance's
 * seal and configuration come to for these instances (the report gives the appliance's own figure).
 */
function sealLikeTags(snapshotId, i) {
  const fill = (n, seed) => Buffer.from(`${snapshotId}:${seed}:`.repeat(8)).toString('base64').slice(0, n);
  const tags = [{ Key: 'lifeboat:seal', Value: `lb1:${fill(116, 'seal')}` }];
  for (let k = 0; k < 9; k++) tags.push({ Key: `lifeboat:cfg:${i * 9 + k}`, Value: fill(60, k) });
  return tags;
}

const bareTagChars = () =>
  sealLikeTags('snap-0123456789abcdef0', 0).reduce((n, t) => n + t.Key.length + t.Value.length, 0);

/** One run of the bare function; `previous` (instance id → snapshot ids) is replaced by this run's sets. */
async function bareRun(ec2, previous, runNo) {
  const calls = {};
  const count = (api) => (calls[`ec2:${api}`] = (calls[`ec2:${api}`] ?? 0) + 1);
  const lookup = new BareLookup(ec2, count);
  const slots = new Slots(WORKERS);
  const { instances } = await readFleet(ec2, count);
  const selected = instances.filter((i) =>
    (i.Tags ?? []).some((t) => t.Key === 'Bench' && t.Value === 'yes'),
  );
  const session = `bare-${runNo}-${Date.now()}`;
  let deleted = 0;
  let snapshots = 0;
  await Promise.all(
    selected.map(async (inst) => {
      await slots.take();
      let set;
      try {
        const token = `${session}-${inst.InstanceId}`;
        count('CreateSnapshots');
        const made = await ec2.send(
          new CreateSnapshotsCommand({
            InstanceSpecification: { InstanceId: inst.InstanceId, ExcludeBootVolume: false },
            Description: `bare ${inst.InstanceId} (${token})`,
            TagSpecifications: [
              {
                ResourceType: 'snapshot',
                Tags: [
                  { Key: 'lifeboat', Value: 'v1' },
                  { Key: 'lifeboat:session', Value: session },
                  { Key: 'lifeboat:task', Value: inst.InstanceId },
                  { Key: 'lifeboat:expires', Value: new Date(Date.now() + 86_400_000).toISOString() },
                  { Key: 'lifeboat:token', Value: token },
                ],
              },
            ],
          }),
        );
        set = (made.Snapshots ?? []).map((s) => s.SnapshotId);
        for (const [i, id] of set.entries()) {
          count('CreateTags');
          await ec2.send(new CreateTagsCommand({ Resources: [id], Tags: sealLikeTags(id, i) }));
        }
      } finally {
        slots.give();
      }
      const done = await Promise.all(set.map((id) => lookup.waitDone(id)));
      if (done.some((s) => s.State !== 'completed'))
        throw new Error(`bare: a snapshot of ${inst.InstanceId} failed`);
      snapshots += set.length;
      await slots.take(true);
      try {
        const before = previous.get(inst.InstanceId) ?? [];
        if (before.length > 0) {
          const seen = await lookup.describe(before);
          for (const id of before) {
            if (!seen.get(id)?.Tags?.some((t) => t.Key === 'lifeboat:seal')) continue;
            count('DeleteSnapshot');
            await ec2.send(new DeleteSnapshotCommand({ SnapshotId: id }));
            deleted++;
          }
        }
        previous.set(inst.InstanceId, set);
      } finally {
        slots.give();
      }
    }),
  );
  return { instances: selected.length, snapshots, deleted, calls };
}

// ---------------------------------------------------------------------------------------------------------------
// The run.

const fmt = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '—');
const sum = (o) => Object.values(o).reduce((a, b) => a + b, 0);

async function main() {
  const started = new Date();
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const git = (...args) => {
    try {
      return execFileSync('git', ['-C', ROOT, ...args], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim();
    } catch {
      return '';
    }
  };
  const commit = git('rev-parse', '--short', 'HEAD') || 'an unknown commit';
  const dirty = git('status', '--porcelain', '--untracked-files=no', 'packages');
  log(`sandbox (fast: every delay at zero)`);
  const sandbox = await startSandbox();
  const keys = {
    accessKeyId: sandbox.accounts[0].accessKeyId,
    secretAccessKey: sandbox.accounts[0].secretAccessKey,
  };
  const setup = ec2Of(sandbox, keys);
  let t = performance.now();
  const fleet = await makeFleet(setup);
  setup.destroy();
  const fleetS = (performance.now() - t) / 1000;
  log(`fleet: ${fleet.instances} instances, ${fleet.volumes} volumes in ${fmt(fleetS)} s`);

  const appliance = await startAppliance(sandbox, keys);
  const rssStart = rssOf(appliance.pid);
  const base = appliance.api;
  const login = await ok(base, undefined, 'POST', '/auth/login', { user: 'admin', password: PASSWORD });
  const token = login.token;
  await ok(base, token, 'POST', '/accounts', { name: 'bench', accessKeys: keys, regions: [REGION] });
  t = performance.now();
  const refresh = await ok(base, token, 'POST', '/inventory/refresh', { wait: true });
  const refreshS = (performance.now() - t) / 1000;
  if (refresh.state !== 'succeeded')
    throw new Error(`inventory refresh: ${JSON.stringify(refresh).slice(0, 2000)}`);
  await ok(base, token, 'POST', '/policies', {
    name: POLICY,
    resources: { accounts: ['bench'], regions: [REGION], tags: { Bench: 'yes' } },
    snapshots: { keep: 1 },
  });
  log(
    `appliance pid ${appliance.pid}: account registered, inventory read in ${fmt(refreshS)} s, policy made`,
  );

  // RSS every 100 ms from here to the end; idle = the 2 s before run 1.
  const samples = [];
  let phase = 'idle';
  const sampler = setInterval(() => samples.push({ phase, mib: rssOf(appliance.pid) }), 100);
  await new Promise((r) => setTimeout(r, 2000));

  const bareEc2 = ec2Of(sandbox, keys, { maxAttempts: 1 });
  const barePrevious = new Map();
  const rows = [];
  for (let run = 1; run <= RUNS; run++) {
    // bare
    const ours = new Set([process.pid, sandbox.pid, appliance.pid]);
    const waitedBare = await waitQuiet(ours, Number(values['wait-quiet']));
    phase = `bare ${run}`;
    let others0 = othersCpu(ours);
    let sb0 = cpuOf(sandbox.pid);
    const me0 = process.cpuUsage();
    t = performance.now();
    const bare = await bareRun(bareEc2, barePrevious, run);
    const bareS = (performance.now() - t) / 1000;
    const me = process.cpuUsage(me0);
    const bareCpu = (me.user + me.system) / 1e6;
    const bareSandboxCpu = cpuOf(sandbox.pid) - sb0;
    const bareOthers = othersCpu(ours) - others0;
    log(`run ${run} bare: ${fmt(bareS)} s, ${sum(bare.calls)} calls, ${bare.deleted} deleted`);
    // appliance
    const waitedAppliance = await waitQuiet(ours, Number(values['wait-quiet']));
    phase = `appliance ${run}`;
    others0 = othersCpu(ours);
    sb0 = cpuOf(sandbox.pid);
    const ap0 = cpuOf(appliance.pid);
    t = performance.now();
    const s = await ok(base, token, 'POST', `/policies/${POLICY}/run?wait=true`, undefined, [200]);
    const appS = (performance.now() - t) / 1000;
    const appCpu = cpuOf(appliance.pid) - ap0;
    const appSandboxCpu = cpuOf(sandbox.pid) - sb0;
    const appOthers = othersCpu(ours) - others0;
    phase = `after ${run}`;
    const session = await ok(base, token, 'GET', `/sessions/${s.id}`);
    const calls = await ok(base, token, 'GET', `/sessions/${s.id}/aws-calls`);
    const byApi = {};
    for (const c of calls.calls) byApi[c.api] = (byApi[c.api] ?? 0) + c.count;
    const tasks = session.tasks.filter((x) => x.kind === 'snapshot.instance');
    const deleted = tasks.reduce((n, x) => n + (x.result?.retention?.deleted ?? 0), 0);
    const sessionS = (Date.parse(session.endedAt) - Date.parse(session.createdAt)) / 1000;
    if (tasks.length !== fleet.instances)
      throw new Error(`run ${run}: ${tasks.length} tasks: ${appliance.stderr()}`);
    // A session that did not succeed: what its tasks said (warn and error lines, ids blanked, counted).
    const problems = {};
    for (const x of session.tasks.filter((y) => y.state !== 'succeeded')) {
      const lines = await ok(base, token, 'GET', `/sessions/${s.id}/log?task=${x.id}&limit=200`);
      for (const l of lines.items.filter((y) => y.level !== 'info')) {
        const m = `${x.state}: ${l.message}`
          .replace(/\b(snap|vol|i)-[0-9a-f]+/g, '$1-…')
          .replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, '<uuid>');
        problems[m] = (problems[m] ?? 0) + 1;
      }
    }
    if (session.state !== 'succeeded')
      log(`run ${run}: session ${session.state}: ${JSON.stringify(problems)}`);
    const peak = Math.max(...samples.filter((x) => x.phase === `appliance ${run}`).map((x) => x.mib));
    log(
      `run ${run} appliance: ${fmt(appS)} s (${fmt(appS / bareS)}× bare), ${calls.total} calls, ` +
        `${deleted} deleted, ${fmt(appCpu)} CPU-s, RSS peak ${fmt(peak, 0)} MiB`,
    );
    rows.push({
      run,
      bare: {
        wallS: bareS,
        cpuS: bareCpu,
        sandboxCpuS: bareSandboxCpu,
        othersCpuS: bareOthers,
        waitedS: waitedBare,
        ...bare,
      },
      appliance: {
        wallS: appS,
        sessionS,
        cpuS: appCpu,
        sandboxCpuS: appSandboxCpu,
        othersCpuS: appOthers,
        waitedS: waitedAppliance,
        calls: byApi,
        total: calls.total,
        deleted,
        rssPeakMiB: peak,
        state: session.state,
        problems,
      },
    });
  }
  bareEc2.destroy();
  await new Promise((r) => setTimeout(r, 2000));
  clearInterval(sampler);
  const idle = samples.filter((x) => x.phase === 'idle').map((x) => x.mib);
  const idleMiB = idle.reduce((a, b) => a + b, 0) / idle.length;
  const during = samples.filter((x) => !x.phase.startsWith('idle')).map((x) => x.mib);
  const peakMiB = Math.max(...during);
  const endMiB = samples.at(-1).mib;

  // The appliance's tag payload, for comparison with the bare function's (10 tags per snapshot).
  const look = ec2Of(sandbox, keys);
  const tagged =
    (
      await look.send(
        new DescribeSnapshotsCommand({
          OwnerIds: ['self'],
          Filters: [{ Name: 'tag-key', Values: ['lifeboat:seal'] }],
          MaxResults: 1000,
        }),
      )
    ).Snapshots ?? [];
  look.destroy();
  const tagOf = (x, key) => (x.Tags ?? []).find((t) => t.Key === key)?.Value ?? '';
  const sealed = (x) =>
    (x.Tags ?? []).filter((t) => t.Key === 'lifeboat:seal' || t.Key.startsWith('lifeboat:cfg:'));
  const applianceSnaps = tagged.filter((x) => !tagOf(x, 'lifeboat:session').startsWith('bare-'));
  const tagStats = applianceSnaps.length
    ? {
        snapshots: applianceSnaps.length,
        tags: applianceSnaps.reduce((n, x) => n + sealed(x).length, 0) / applianceSnaps.length,
        chars:
          applianceSnaps.reduce(
            (n, x) => n + sealed(x).reduce((m, t) => m + t.Key.length + t.Value.length, 0),
            0,
          ) / applianceSnaps.length,
        all: applianceSnaps.reduce((n, x) => n + (x.Tags ?? []).length, 0) / applianceSnaps.length,
      }
    : null;

  appliance.child.kill('SIGTERM');
  await new Promise((r) => appliance.child.once('exit', r));

  const report = render({
    started,
    load,
    commit,
    dirty,
    fleet,
    fleetS,
    refreshS,
    rssStart,
    idleMiB,
    peakMiB,
    endMiB,
    rows,
    tagStats,
  });
  process.stdout.write(report);
  if (!values['no-write']) {
    const out = resolve(ROOT, values.out);
    mkdirSync(out, { recursive: true });
    const stamp = started.toISOString().replace(/[-:]/g, '').slice(0, 13);
    const file = join(out, `policy-scale-${stamp}Z.md`);
    writeFileSync(file, report);
    log(`written: ${file}`);
  }
  process.exit(0);
}

function render(r) {
  const n = r.fleet.instances;
  const lines = [];
  const p = (s = '') => lines.push(s);
  const steady = r.rows.filter((x) => x.run > 1);
  p(`# Policy over ${n} instances × 2 volumes: appliance beside a bare SDK function`);
  p();
  p(
    `${r.started.toISOString()} at ${r.commit}${r.dirty ? ' (packages/ modified in the work tree)' : ''}, ` +
      `Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'CPU'}, load average ${r.load} at the start; ` +
      `\`node bench/policy-scale.mjs${process.argv
        .slice(2)
        .map((a) => ` ${a}`)
        .join('')}\`. ` +
      `Sandbox with every delay at zero in its own process; ${n} instances of a 1 GiB image with a second 1 GiB volume ` +
      `(${r.fleet.volumes} volumes in the region) made in ${fmt(r.fleetS)} s; the appliance read the inventory in ` +
      `${fmt(r.refreshS)} s. Turns: bare, appliance, bare, appliance, ...; run 1 makes the first snapshots, ` +
      `later runs also delete the previous point's ${2 * n} snapshots (keep: 1). Waited for a quiet machine before ` +
      `the runs: ${fmt(
        r.rows.reduce((t, x) => t + x.bare.waitedS + x.appliance.waitedS, 0),
        0,
      )} s (untimed).`,
  );
  p();
  p(
    "| run | bare s | appliance s (session) | ratio | appliance CPU-s | bare CPU-s | sandbox CPU-s (bare / appliance) | other processes' CPU-s (bare / appliance) | deleted (bare / appliance) | appliance RSS peak MiB | session |",
  );
  p('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const x of r.rows) {
    p(
      `| ${x.run}${x.run === 1 ? ' (first)' : ''} | ${fmt(x.bare.wallS)} | ${fmt(x.appliance.wallS)} (${fmt(x.appliance.sessionS)}) | ` +
        `**${fmt(x.appliance.wallS / x.bare.wallS)}×** | ${fmt(x.appliance.cpuS)} | ${fmt(x.bare.cpuS)} | ` +
        `${fmt(x.bare.sandboxCpuS)} / ${fmt(x.appliance.sandboxCpuS)} | ${fmt(x.bare.othersCpuS, 1)} / ${fmt(x.appliance.othersCpuS, 1)} | ${x.bare.deleted} / ${x.appliance.deleted} | ${fmt(x.appliance.rssPeakMiB, 0)} | ${x.appliance.state} |`,
    );
  }
  p();
  for (const x of r.rows) {
    const found = Object.entries(x.appliance.problems);
    if (found.length === 0) continue;
    p(`Run ${x.run}, the session's warn and error lines (count × line):`);
    p();
    for (const [m, k] of found.sort((a, b) => b[1] - a[1])) p(`- ${k} × ${m.replaceAll('|', '\\|')}`);
    p();
  }
  const apis = [
    ...new Set(r.rows.flatMap((x) => [...Object.keys(x.appliance.calls), ...Object.keys(x.bare.calls)])),
  ].sort();
  p('AWS calls per instance (total for the run in parentheses), appliance / bare:');
  p();
  p(`| API | ${r.rows.map((x) => `run ${x.run}`).join(' | ')} |`);
  p(`|---|${r.rows.map(() => '---').join('|')}|`);
  for (const api of apis) {
    p(
      `| ${api} | ${r.rows
        .map((x) => {
          const a = x.appliance.calls[api] ?? 0;
          const b = x.bare.calls[api] ?? 0;
          return `${fmt(a / n, 3)} (${a}) / ${fmt(b / n, 3)} (${b})`;
        })
        .join(' | ')} |`,
    );
  }
  const ec2 = (c) =>
    Object.entries(c)
      .filter(([k]) => k.startsWith('ec2:'))
      .reduce((a, [, v]) => a + v, 0);
  p(
    `| **EC2 total** | ${r.rows
      .map(
        (x) =>
          `**${fmt(ec2(x.appliance.calls) / n, 3)}** (${ec2(x.appliance.calls)}) / ${fmt(ec2(x.bare.calls) / n, 3)} (${ec2(x.bare.calls)})`,
      )
      .join(' | ')} |`,
  );
  p();
  if (r.tagStats)
    p(
      `Phase-2 tags (seal and configuration) on the appliance's snapshots: ${fmt(r.tagStats.tags, 1)} tags, ` +
        `${fmt(r.tagStats.chars, 0)} characters per snapshot (${r.tagStats.snapshots} snapshots); the bare function sends 10 tags of ${bareTagChars()} characters.`,
    );
  p();
  p(
    `Appliance RSS: ${fmt(r.rssStart, 0)} MiB at start, **idle ${fmt(r.idleMiB, 0)} MiB** (before run 1, after the ` +
      `inventory), **peak ${fmt(r.peakMiB, 0)} MiB** over the runs, ${fmt(r.endMiB, 0)} MiB 2 s after the last.`,
  );
  p();
  const worst = Math.max(...steady.map((x) => x.appliance.wallS / x.bare.wallS));
  const calls = Math.max(...steady.map((x) => ec2(x.appliance.calls) / n));
  const growth = r.peakMiB - r.idleMiB;
  const met = (b) => (b ? '**met**' : '**not met**');
  p('| target | figure | goal | met? |');
  p('|---|---|---|---|');
  p(
    `| session time / bare function's time, steady state | ${steady.map((x) => `${fmt(x.appliance.wallS / x.bare.wallS)}×`).join(', ')} | ≤ 1.5× | ${met(steady.length > 0 && worst <= 1.5)} |`,
  );
  p(
    `| EC2 calls per instance, steady state | ${steady.map((x) => fmt(ec2(x.appliance.calls) / n, 2)).join(', ')} | ≤ 6 | ${met(steady.length > 0 && calls <= 6)} |`,
  );
  p(`| memory growth (peak − idle) | ${fmt(growth, 0)} MiB | ≤ 64 MiB | ${met(growth <= 64)} |`);
  p();
  return `${lines.join('\n')}\n`;
}

await main();
