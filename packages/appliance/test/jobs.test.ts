/**
 * The job engine in-process (issue 16): limits per (account, region) and overall, failure isolation and the
 * session's state, cancel, throttled progress events, the test clock, retries of throttling and 5xx against the
 * sandbox's EC2 with injected faults, and a restart that resumes a task from the resources its tags find.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateVolumeCommand, DescribeVolumesCommand, EC2Client } from '@aws-sdk/client-ec2';
import type { EventRecord, TaskRecord } from '@lifeboat/catalog';
import { type RunningSandbox, startSandbox, TEST_ACCOUNTS } from '@lifeboat/sandbox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Appliance,
  type ApplianceOptions,
  retryReason,
  sleepOn,
  TASK_TAG,
  TaskError,
  type TaskKind,
  TestClock,
  withRetries,
} from '../src/index.js';

const work = mkdtempSync(join(tmpdir(), 'lifeboat-jobs-'));
let sandbox: RunningSandbox;
let n = 0;
const open: Appliance[] = [];

beforeAll(async () => {
  sandbox = await startSandbox({ fast: true });
});
afterAll(async () => {
  for (const a of open) await a.close().catch(() => {});
  await sandbox?.close();
  rmSync(work, { recursive: true, force: true });
});

async function appliance(options: Partial<ApplianceOptions> = {}, dataDir?: string): Promise<Appliance> {
  const a = await Appliance.open({
    dataDir: dataDir ?? join(work, `data-${++n}`),
    testMode: true,
    ...options,
  });
  open.push(a);
  await a.jobs.start();
  return a;
}

async function reopen(a: Appliance, options: Partial<ApplianceOptions>): Promise<Appliance> {
  await a.close();
  open.splice(open.indexOf(a), 1);
  return appliance(options, a.dataDir);
}

const account = TEST_ACCOUNTS[0]!;
function ec2(): EC2Client {
  return new EC2Client({
    endpoint: sandbox.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: account.accessKeyId, secretAccessKey: account.secretAccessKey },
    // One attempt per call: the retries proven here are the engine's, not the SDK's.
    maxAttempts: 1,
  });
}

const ALICE = { userId: null, name: 'alice', address: null };

describe('withRetries', () => {
  it('tells throttling, 5xx and network errors from the rest', () => {
    const sdk = (name: string, status: number) =>
      Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });
    expect(retryReason(sdk('ThrottlingException', 400))).toBe('throttling');
    expect(retryReason(sdk('RequestLimitExceeded', 503))).toBe('throttling');
    expect(retryReason(sdk('SlowDown', 503))).toBe('throttling');
    expect(retryReason(sdk('TooManyRequestsException', 429))).toBe('throttling');
    expect(retryReason(sdk('Whatever', 429))).toBe('throttling');
    expect(retryReason(sdk('InternalError', 500))).toBe('server');
    expect(retryReason(sdk('Unknown', 503))).toBe('server');
    expect(retryReason(Object.assign(new Error('x'), { $retryable: {} }))).toBe('server');
    expect(retryReason(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))).toBe('network');
    expect(
      retryReason(
        new TypeError('fetch failed', { cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }) }),
      ),
    ).toBe('network');
    expect(retryReason(sdk('InvalidParameterValue', 400))).toBeUndefined();
    expect(retryReason(sdk('UnauthorizedOperation', 403))).toBeUndefined();
    expect(retryReason(new Error('plain'))).toBeUndefined();
  });

  it('backs off with full jitter below a doubling ceiling, bounded in attempts, on the given clock', async () => {
    const clock = new TestClock();
    const delays: number[] = [];
    let calls = 0;
    const err = Object.assign(new Error('slow down'), {
      name: 'SlowDown',
      $metadata: { httpStatusCode: 503 },
    });
    const p = withRetries(
      async () => {
        calls++;
        throw err;
      },
      {
        clock,
        attempts: 5,
        baseMs: 1000,
        maxMs: 3000,
        random: () => 0.999,
        onRetry: (i) => delays.push(i.delayMs),
      },
    );
    // Every wait is on the test clock: moving it ends each one without real waiting.
    const mover = setInterval(() => clock.advance(5000), 5);
    await expect(p).rejects.toBe(err);
    clearInterval(mover);
    expect(calls).toBe(5);
    expect(delays).toEqual([999, 1998, 2997, 2997]);
    // A non-transient error is not retried; the abort ends a wait at once.
    let once = 0;
    await expect(
      withRetries(
        async () => {
          once++;
          throw new Error('bad');
        },
        { clock },
      ),
    ).rejects.toThrow('bad');
    expect(once).toBe(1);
    const controller = new AbortController();
    const waiting = withRetries(
      async () => {
        throw err;
      },
      { clock, signal: controller.signal, baseMs: 60_000, random: () => 0.5 },
    );
    setTimeout(() => controller.abort(new Error('stop')), 20);
    await expect(waiting).rejects.toThrow('stop');
  });
});

describe('the engine', () => {
  it('keeps to the limits per (account, region) and overall, queueing the rest', async () => {
    let now = 0;
    let most = 0;
    const perKey = new Map<string, number>();
    let mostPerKey = 0;
    const probe: TaskKind = {
      kind: 'probe',
      async run(ctx) {
        const key = `${ctx.task.account}/${ctx.task.region}`;
        now++;
        perKey.set(key, (perKey.get(key) ?? 0) + 1);
        most = Math.max(most, now);
        mostPerKey = Math.max(mostPerKey, perKey.get(key)!);
        await ctx.sleep(30);
        now--;
        perKey.set(key, perKey.get(key)! - 1);
      },
    };
    const a = await appliance({ taskKinds: [probe], jobLimits: { perAccountRegion: 2, overall: 3 } });
    const tasks = Array.from({ length: 12 }, (_, i) => ({
      resource: `i-${i}`,
      account: i % 2 ? '111111111111' : '222222222222',
      region: i % 3 ? 'us-east-1' : 'eu-west-1',
    }));
    const s = await a.jobs.startSession(ALICE, { kind: 'probe', tasks });
    const ended = await a.jobs.whenEnded(s.id);
    expect(ended.state).toBe('succeeded');
    expect(ended.counts.succeeded).toBe(12);
    expect(most).toBe(3);
    expect(mostPerKey).toBe(2);
    const full = await a.jobs.get(s.id);
    expect(full.tasks.every((t) => t.attempts === 1 && t.progress === 1 && t.startedAt && t.endedAt)).toBe(
      true,
    );
    expect((await a.audit.list({ limit: 5, action: 'session.' })).map((e) => e.action)).toEqual([
      'session.start',
    ]);
  });

  it('a failure never fails its neighbours; the session is failed, warning or succeeded from its tasks', async () => {
    const mixed: TaskKind = {
      kind: 'mixed',
      async run(ctx) {
        const what = ctx.task.input as string;
        await ctx.log('info', `doing ${what}`);
        if (what === 'fail') throw new TaskError('BROKEN', 'it broke');
        if (what === 'crash') throw new Error('unexpected');
        if (what === 'warn') return { warning: 'a volume was skipped' };
        return { result: { ok: what } };
      },
    };
    const a = await appliance({ taskKinds: [mixed] });
    const run = async (inputs: string[]) => {
      const s = await a.jobs.startSession(ALICE, {
        kind: 'mixed',
        tasks: inputs.map((input) => ({ input })),
      });
      await a.jobs.whenEnded(s.id);
      return a.jobs.get(s.id);
    };
    const failed = await run(['ok', 'fail', 'ok', 'crash', 'warn']);
    expect(failed.state).toBe('failed');
    expect(failed.tasks.map((t) => t.state)).toEqual([
      'succeeded',
      'failed',
      'succeeded',
      'failed',
      'warning',
    ]);
    expect(failed.tasks[1]!.error).toEqual({ code: 'BROKEN', message: 'it broke' });
    expect(failed.tasks[3]!.error).toEqual({ code: 'TASK_FAILED', message: 'unexpected' });
    expect(failed.tasks[0]!.result).toEqual({ ok: 'ok' });
    expect(failed.summary).toMatchObject({ tasks: 5, succeeded: 2, failed: 2, warning: 1 });
    expect((await run(['ok', 'warn'])).state).toBe('warning');
    expect((await run(['ok'])).state).toBe('succeeded');
    expect((await run([])).state).toBe('succeeded');
    const log = await a.jobs.readLog({ sessionId: failed.id, limit: 100 });
    expect(log.map((l) => l.message)).toContain('failed: it broke');
    expect(log.at(-1)!.message).toBe('session failed');
    await expect(a.jobs.startSession(ALICE, { kind: 'nope', tasks: [{}] })).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
    });
  });

  it('cancel aborts running tasks, cancels queued ones, and leaves no work running', async () => {
    let active = 0;
    let afterCancel = 0;
    let cancelled = false;
    const slow: TaskKind = {
      kind: 'slow',
      async run(ctx) {
        active++;
        try {
          for (let i = 0; i < 100; i++) {
            await ctx.sleep(20);
            if (cancelled) afterCancel++;
          }
        } finally {
          active--;
        }
      },
    };
    const a = await appliance({ taskKinds: [slow], jobLimits: { overall: 2 } });
    const s = await a.jobs.startSession(ALICE, { kind: 'slow', tasks: [{}, {}, {}, {}, {}] });
    await new Promise((r) => setTimeout(r, 100));
    expect(active).toBe(2);
    cancelled = true;
    await a.jobs.cancel(ALICE, s.id);
    const ended = await a.jobs.whenEnded(s.id);
    expect(active).toBe(0);
    expect(a.jobs.runningCount()).toBe(0);
    expect(afterCancel).toBeLessThanOrEqual(2); // a step already in its sleep when the abort came, at most
    expect(ended.state).toBe('cancelled');
    const full = await a.jobs.get(s.id);
    expect(full.tasks.map((t) => t.state)).toEqual([
      'cancelled',
      'cancelled',
      'cancelled',
      'cancelled',
      'cancelled',
    ]);
    expect(full.tasks.filter((t) => t.attempts === 0)).toHaveLength(3);
    expect(full.cancelRequested).toBe(true);
    // Cancelling what ended changes nothing.
    expect((await a.jobs.cancel(ALICE, s.id)).state).toBe('cancelled');
    await expect(a.jobs.cancel(ALICE, 'nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('publishes state changes at once and progress at most about 4 times a second per session', async () => {
    const chatty: TaskKind = {
      kind: 'chatty',
      async run(ctx) {
        for (let i = 1; i <= 200; i++) {
          ctx.progress(i / 200, `${i}`);
          await ctx.sleep(5);
        }
      },
    };
    const a = await appliance({ taskKinds: [chatty] });
    const seen: EventRecord[] = [];
    a.events.subscribe((e) => {
      if (e.topic === 'session.progress') seen.push(e);
    });
    const started = Date.now();
    const s = await a.jobs.startSession(ALICE, { kind: 'chatty', tasks: [{}, {}] });
    await a.jobs.whenEnded(s.id);
    const seconds = (Date.now() - started) / 1000;
    const mine = seen.filter((e) => (e.data as { sessionId: string }).sessionId === s.id);
    const progress = mine.filter(
      (e) => !(e.data as { taskId?: string }).taskId && (e.data as { state: string }).state === 'running',
    );
    expect(progress.length).toBeGreaterThan(1);
    expect(progress.length).toBeLessThanOrEqual(Math.ceil(seconds * 4) + 2);
    const last = mine.at(-1)!.data as { state: string; progress: number };
    expect(last).toMatchObject({ state: 'succeeded', progress: 1 });
    const taskEvents = mine.filter((e) => (e.data as { taskId?: string }).taskId);
    expect(taskEvents.map((e) => (e.data as { state: string }).state).sort()).toEqual([
      'running',
      'running',
      'succeeded',
      'succeeded',
    ]);
  });

  it('sleeps on the test clock: moving it finishes an hour-long task now', async () => {
    const a = await appliance({ testTaskKinds: true });
    expect(a.clock).toBeInstanceOf(TestClock);
    const s = await a.jobs.startSession(ALICE, {
      kind: 'test.steps',
      tasks: [{ input: { steps: 3, stepMs: 3_600_000 } }],
    });
    const before = a.clock.now().getTime();
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, 30));
      (a.clock as TestClock).advance(3_600_000);
    }
    const ended = await a.jobs.whenEnded(s.id);
    expect(ended.state).toBe('succeeded');
    expect(Date.parse(ended.endedAt!) - before).toBeGreaterThanOrEqual(3 * 3_600_000);
    // Outside test mode the clock is the system's.
    const plain = await Appliance.open({ dataDir: join(work, `plain-${++n}`) });
    expect(plain.clock).not.toBeInstanceOf(TestClock);
    await plain.close();
    await expect(sleepOn(new TestClock(), 10, AbortSignal.abort(new Error('gone')))).rejects.toThrow('gone');
  });
});

describe('restart', () => {
  it('fails a task whose kind is gone, keeps queued tasks waiting behind the limits, and never runs a task twice', async () => {
    const runs = new Map<string, number>();
    const hold: TaskKind = {
      kind: 'hold',
      async run(ctx) {
        runs.set(ctx.task.id, (runs.get(ctx.task.id) ?? 0) + 1);
        await ctx.sleep(60_000);
      },
    };
    const quick: TaskKind = {
      kind: 'hold',
      async run(ctx) {
        runs.set(ctx.task.id, (runs.get(ctx.task.id) ?? 0) + 1);
      },
    };
    const other: TaskKind = { kind: 'other', run: async () => {} };
    let a = await appliance({ taskKinds: [hold, other], jobLimits: { overall: 1 } });
    const s = await a.jobs.startSession(ALICE, {
      kind: 'hold',
      tasks: [{}, {}, { kind: 'other' }],
    });
    for (let i = 0; i < 100 && runs.size === 0; i++) await new Promise((r) => setTimeout(r, 10));
    // Restarted without the kind 'other', and 'hold' now quick: the running one is interrupted (no resume), the
    // queued 'hold' runs once, the queued 'other' fails.
    a = await reopen(a, { taskKinds: [quick] });
    await a.jobs.whenEnded(s.id);
    const full = await a.jobs.get(s.id);
    expect(full.tasks.map((t) => t.state)).toEqual(['interrupted', 'succeeded', 'failed']);
    expect(full.tasks[2]!.error!.code).toBe('UNKNOWN_KIND');
    expect([...runs.values()]).toEqual([1, 1]);
    expect(full.state).toBe('failed');
  });

  it('a session cancelled before the restart ends cancelled after it, its queued tasks never started', async () => {
    const idle: TaskKind = { kind: 'idle2', run: (ctx) => ctx.sleep(60_000) };
    let a = await appliance({ taskKinds: [idle], jobLimits: { overall: 1 } });
    const s = await a.jobs.startSession(ALICE, { kind: 'idle2', tasks: [{}, {}] });
    await a.catalog.sessions.update(s.id, { cancelRequested: true }); // asked, then the appliance died
    a = await reopen(a, { taskKinds: [idle] });
    const ended = await a.jobs.whenEnded(s.id);
    expect(ended.state).toBe('cancelled');
    expect((await a.jobs.get(s.id)).tasks.map((t) => [t.state, t.attempts])).toEqual([
      ['interrupted', 1],
      ['cancelled', 0],
    ]);
  });
});

describe('against the sandbox', () => {
  /** Creates a volume tagged with its session and task (at creation), then waits; resumes by finding it by tag. */
  function volumeKind(waitMs: number): TaskKind {
    const client = ec2();
    const find = async (task: TaskRecord) => {
      const r = await client.send(
        new DescribeVolumesCommand({ Filters: [{ Name: `tag:${TASK_TAG}`, Values: [task.id] }] }),
      );
      return r.Volumes ?? [];
    };
    return {
      kind: 'volume',
      async run(ctx) {
        const created = await ctx.withRetries(
          () =>
            client.send(
              new CreateVolumeCommand({
                AvailabilityZone: 'us-east-1a',
                Size: 1,
                TagSpecifications: [{ ResourceType: 'volume', Tags: ctx.awsTags() }],
              }),
            ),
          { baseMs: 10, maxMs: 50 },
        );
        ctx.progress(0.5, 'volume created');
        await ctx.sleep(waitMs);
        return { result: { volumeId: created.VolumeId, resumed: false } };
      },
      canResume: async (task) => (await find(task)).length > 0,
      async resume(ctx) {
        const [volume] = await ctx.withRetries(() => find(ctx.task), { baseMs: 10, maxMs: 50 });
        return { result: { volumeId: volume!.VolumeId, resumed: true } };
      },
    };
  }

  it('retries throttling and 5xx with backoff until the call passes; a neighbour that fails stays alone', async () => {
    const failing: TaskKind = {
      kind: 'bad-call',
      async run(ctx) {
        await ctx.withRetries(() =>
          ec2().send(new DescribeVolumesCommand({ VolumeIds: ['vol-00000000000000000'] })),
        );
      },
    };
    const a = await appliance({ taskKinds: [volumeKind(0), failing] });
    sandbox.clearFaults();
    sandbox.addFault({ service: 'ec2', operation: 'CreateVolume', kind: 'throttle', count: 3 });
    sandbox.addFault({ service: 'ec2', operation: 'CreateVolume', kind: 'error5xx', status: 503, count: 2 });
    const s = await a.jobs.startSession(ALICE, {
      kind: 'volume',
      tasks: [{ account: account.accountId, region: 'us-east-1' }, { kind: 'bad-call' }],
    });
    await a.jobs.whenEnded(s.id);
    sandbox.clearFaults();
    const full = await a.jobs.get(s.id);
    expect(full.state).toBe('failed');
    expect(full.tasks[0]!.state).toBe('succeeded');
    expect(full.tasks[1]!.state).toBe('failed');
    expect(full.tasks[1]!.error!.code).toMatch(/Invalid/);
    const log = (await a.jobs.readLog({ sessionId: s.id, taskId: full.tasks[0]!.id, limit: 100 })).map(
      (l) => l.message,
    );
    expect(log.filter((m) => m.startsWith('throttled'))).toHaveLength(3);
    expect(log.filter((m) => m.startsWith('server error'))).toHaveLength(2);
    const volumeId = (full.tasks[0]!.result as { volumeId: string }).volumeId;
    const tagged = await ec2().send(new DescribeVolumesCommand({ VolumeIds: [volumeId] }));
    expect(Object.fromEntries(tagged.Volumes![0]!.Tags!.map((t) => [t.Key, t.Value]))).toEqual({
      'lifeboat:session': s.id,
      'lifeboat:task': full.tasks[0]!.id,
    });
  });

  it('after a stop mid-task, resumes the task whose tagged volume it finds and interrupts the one with nothing', async () => {
    const idle: TaskKind = {
      kind: 'idle',
      async run(ctx) {
        await ctx.sleep(60_000);
      },
      async resume() {
        throw new Error('never resumed: it has no checkpoint and no tagged resource');
      },
    };
    const kinds = () => [volumeKind(60_000), idle];
    let a = await appliance({ taskKinds: kinds() });
    const s = await a.jobs.startSession(ALICE, { kind: 'volume', tasks: [{}, { kind: 'idle' }, {}] });
    // Both volume tasks created their volume and wait; the idle one waits having made nothing.
    for (let i = 0; i < 100; i++) {
      const t = await a.jobs.get(s.id);
      if (
        t.tasks.filter((x) => x.kind === 'volume').every((x) => x.progress === 0.5) &&
        t.tasks.every((x) => x.state === 'running')
      )
        break;
      await new Promise((r) => setTimeout(r, 50));
    }
    a = await reopen(a, { taskKinds: kinds() });
    const ended = await a.jobs.whenEnded(s.id);
    const full = await a.jobs.get(s.id);
    expect(full.tasks.map((t) => t.state)).toEqual(['succeeded', 'interrupted', 'succeeded']);
    expect(full.tasks[1]!.error).toEqual({
      code: 'INTERRUPTED',
      message: 'interrupted by an appliance restart',
    });
    expect(full.tasks[0]!.result).toMatchObject({ resumed: true });
    expect(full.tasks[0]!.attempts).toBe(2);
    expect(full.tasks[1]!.attempts).toBe(1);
    expect(ended.state).toBe('failed');
  });
});
