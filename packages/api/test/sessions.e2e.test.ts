/**
 * Issue 16 end to end over `lifeboat server --test-mode` with the test-only task kinds (LIFEBOAT_TEST_TASK_KINDS=1):
 * the session routes with their permissions, progress over the event stream, cancel, the test clock (the sandbox's
 * too, and absent without --test-mode), the CLI, and kill -9 at several points of two sessions: a task with a
 * checkpoint is resumed, one without is failed `interrupted`, queued ones run after, and none runs twice.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type RunningSandbox, startSandbox } from '@lifeboat/sandbox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_PASSWORD,
  Api,
  ApplianceProcess,
  Cli,
  EventStream,
  problemOf,
  stopAll,
  tempDir,
} from './appliance-process.js';

const TEST_ENV = { LIFEBOAT_TEST_TASK_KINDS: '1' };

interface Task {
  id: string;
  seq: number;
  state: string;
  attempts: number;
  checkpoint: { step?: number } | null;
  error: { code: string; message: string } | null;
}
interface Session {
  id: string;
  state: string;
  progress: number;
  counts: Record<string, number>;
  tasks: Task[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

let sandbox: RunningSandbox;
let server: ApplianceProcess;
let api: Api;
let admin: string;

beforeAll(async () => {
  sandbox = await startSandbox({ fast: true });
  server = await ApplianceProcess.start({
    args: ['--test-mode'],
    env: {
      ...TEST_ENV,
      LIFEBOAT_SANDBOX_ADMIN: `${sandbox.endpoint}/_sandbox`,
      LIFEBOAT_SANDBOX_TOKEN: sandbox.adminToken,
    },
  });
  api = new Api(server.api);
  admin = await api.login('admin', ADMIN_PASSWORD);
});

afterAll(async () => {
  await stopAll();
  await sandbox?.close();
});

async function startSession(token: string, body: unknown): Promise<Session> {
  const r = await api.call<Session>('POST', '/test/sessions', { token, body });
  if (r.status !== 201) throw new Error(`start session: ${r.status} ${r.text}`);
  return r.body;
}

async function ended(id: string, token = admin, a = api): Promise<Session> {
  return waitFor(`session ${id} to end`, async () => {
    const r = await a.call<Session>('GET', `/sessions/${id}`, { token });
    return ['succeeded', 'warning', 'failed', 'cancelled'].includes(r.body.state) ? r.body : undefined;
  });
}

describe('sessions over HTTP', () => {
  it('runs a session, lists, shows and logs it; progress arrives on the event stream; roles as documented', async () => {
    await api.addUser(admin, 'vera', 'viewer', 'vera-password');
    await api.addUser(admin, 'otto', 'backup-operator', 'otto-password');
    await api.addUser(admin, 'rosa', 'restore-operator', 'rosa-password');
    const viewer = await api.login('vera', 'vera-password');
    const operator = await api.login('otto', 'otto-password');
    const restorer = await api.login('rosa', 'rosa-password');
    const stream = await EventStream.open(server.api, restorer);
    const s = await startSession(operator, {
      kind: 'test.steps',
      name: 'three steps',
      tasks: [
        { resource: 'i-1', input: { steps: 4, stepMs: 60 } },
        { resource: 'i-2', input: { steps: 4, stepMs: 60, failAt: 2 } },
        { resource: 'i-3', input: { steps: 4, stepMs: 60, warning: 'one volume skipped' } },
      ],
    });
    expect(['queued', 'running']).toContain(s.state);
    const done = await ended(s.id, viewer);
    expect(done.state).toBe('failed');
    expect(done.tasks.map((t) => t.state)).toEqual(['succeeded', 'failed', 'warning']);
    expect(done.tasks[1]!.error).toEqual({ code: 'TEST_FAILURE', message: 'failed at step 2 as asked' });
    expect(done.counts).toMatchObject({ succeeded: 1, failed: 1, warning: 1 });
    // Progress events reached a restore operator (sessions.read), ending with the session's state.
    expect(
      await stream.until((events) =>
        events.some(
          (e) =>
            e.event === 'session.progress' &&
            JSON.parse(e.data).sessionId === s.id &&
            JSON.parse(e.data).state === 'failed' &&
            !JSON.parse(e.data).taskId,
        ),
      ),
    ).toBe(true);
    const mine = stream.events.filter(
      (e) => e.event === 'session.progress' && JSON.parse(e.data).sessionId === s.id,
    );
    expect(mine.some((e) => JSON.parse(e.data).taskId && JSON.parse(e.data).state === 'running')).toBe(true);
    stream.close();

    const list = await api.call<{ items: Session[]; nextCursor: string | null }>('GET', '/sessions?limit=1', {
      token: viewer,
    });
    expect(list.status).toBe(200);
    expect(list.body.items.map((x) => x.id)).toEqual([s.id]);
    const failed = await api.call<{ items: Session[] }>('GET', '/sessions?state=failed&kind=test.steps', {
      token: viewer,
    });
    expect(failed.body.items.map((x) => x.id)).toContain(s.id);
    const none = await api.call<{ items: Session[] }>('GET', '/sessions?state=running', { token: viewer });
    expect(none.body.items.map((x) => x.id)).not.toContain(s.id);
    problemOf(await api.call('GET', '/sessions?state=bogus', { token: viewer }), 400, 'VALIDATION_FAILED');

    const log = await api.call<{
      items: Array<{ id: number; message: string; taskId: string | null }>;
      nextCursor: string | null;
    }>('GET', `/sessions/${s.id}/log?limit=3`, { token: restorer });
    expect(log.body.items).toHaveLength(3);
    expect(log.body.nextCursor).not.toBeNull();
    const rest = await api.call<{ items: Array<{ message: string }> }>(
      'GET',
      `/sessions/${s.id}/log?limit=100&cursor=${log.body.nextCursor}`,
      { token: restorer },
    );
    expect(rest.body.items.at(-1)!.message).toBe('session failed');
    const one = await api.call<{ items: Array<{ taskId: string }> }>(
      'GET',
      `/sessions/${s.id}/log?task=${done.tasks[1]!.id}`,
      {
        token: restorer,
      },
    );
    expect(one.body.items.every((l) => l.taskId === done.tasks[1]!.id)).toBe(true);
    expect(one.body.items.map((l) => (l as unknown as { message: string }).message)).toContain(
      'failed: failed at step 2 as asked',
    );

    problemOf(await api.call('GET', '/sessions/nope', { token: viewer }), 404, 'NOT_FOUND');
    problemOf(await api.call('GET', '/sessions/nope/log', { token: viewer }), 404, 'NOT_FOUND');
    problemOf(await api.call('POST', `/sessions/${s.id}/cancel`, { token: viewer }), 403, 'FORBIDDEN');
    problemOf(await api.call('POST', `/sessions/${s.id}/cancel`, { token: restorer }), 403, 'FORBIDDEN');
    problemOf(
      await api.call('POST', '/test/sessions', { token: viewer, body: { kind: 'test.steps', tasks: [] } }),
      403,
      'FORBIDDEN',
    );
    problemOf(
      await api.call('POST', '/test/sessions', { token: admin, body: { kind: 'nope', tasks: [{}] } }),
      400,
      'VALIDATION_FAILED',
    );
    // Cancelling a session that ended answers it as it is.
    const again = await api.call<Session>('POST', `/sessions/${s.id}/cancel`, { token: operator });
    expect(again.status).toBe(202);
    expect(again.body.state).toBe('failed');
  });

  it('cancel answers 202 and the session ends cancelled with nothing left running', async () => {
    const s = await startSession(admin, {
      kind: 'test.steps',
      tasks: Array.from({ length: 6 }, (_, i) => ({
        resource: `i-${i}`,
        account: '1',
        region: 'r',
        input: { steps: 100, stepMs: 50 },
      })),
    });
    await waitFor('a running task', async () => {
      const r = await api.call<Session>('GET', `/sessions/${s.id}`, { token: admin });
      return r.body.tasks.some((t) => t.state === 'running') ? true : undefined;
    });
    const r = await api.call<Session>('POST', `/sessions/${s.id}/cancel`, { token: admin });
    expect(r.status).toBe(202);
    const done = await ended(s.id);
    expect(done.state).toBe('cancelled');
    expect(done.tasks.every((t) => t.state === 'cancelled')).toBe(true);
    // 4 per (account, region): two never started.
    expect(done.tasks.filter((t) => t.attempts === 0)).toHaveLength(2);
    const audit = await api.call<{ items: Array<{ action: string; target: string }> }>(
      'GET',
      '/audit?action=session.',
      { token: admin },
    );
    expect(audit.body.items.map((e) => `${e.action} ${e.target}`)).toContain(
      `session.cancel session/${s.id}`,
    );
  });

  it('moves the test clock, and the sandbox clock with it; administrators only', async () => {
    const before = sandbox.advanceClock(0);
    const r = await api.call<{ now: string; sandbox?: { now: string } }>('POST', '/test/clock', {
      token: admin,
      body: { advanceSeconds: 86_400 },
    });
    expect(r.status).toBe(200);
    expect(Date.parse(r.body.now) - Date.now()).toBeGreaterThan(86_000_000);
    expect(sandbox.advanceClock(0) - before).toBeGreaterThanOrEqual(86_400_000);
    expect(Date.parse(r.body.sandbox!.now)).toBeGreaterThanOrEqual(before + 86_400_000);
    // Logins age on the same clock: a day later, the 12-hour login has expired.
    problemOf(await api.call('GET', '/sessions', { token: admin }), 401, 'SESSION_EXPIRED');
    admin = await api.login('admin', ADMIN_PASSWORD);
    // The appliance's times follow its clock: a session started now is dated a day ahead.
    const s = await startSession(admin, { kind: 'test.steps', tasks: [{ input: { steps: 1, stepMs: 1 } }] });
    expect(Date.parse((s as unknown as { createdAt: string }).createdAt) - Date.now()).toBeGreaterThan(
      86_000_000,
    );
    const viewer = await api.login('vera', 'vera-password');
    problemOf(
      await api.call('POST', '/test/clock', { token: viewer, body: { advanceSeconds: 1 } }),
      403,
      'FORBIDDEN',
    );
    problemOf(
      await api.call('POST', '/test/clock', { token: admin, body: { advanceSeconds: -1 } }),
      400,
      'VALIDATION_FAILED',
    );
  });

  it('without --test-mode there is no test route and no test kind', async () => {
    const plain = await ApplianceProcess.start({ env: TEST_ENV });
    const p = new Api(plain.api);
    const token = await p.login('admin', ADMIN_PASSWORD);
    problemOf(await p.call('POST', '/test/clock', { token, body: { advanceSeconds: 1 } }), 404, 'NOT_FOUND');
    problemOf(
      await p.call('POST', '/test/sessions', { token, body: { kind: 'test.steps', tasks: [] } }),
      404,
      'NOT_FOUND',
    );
    expect((await p.call<{ items: unknown[] }>('GET', '/sessions', { token })).body.items).toEqual([]);
    await plain.stop();
  });
});

describe('the CLI', () => {
  it('session list, show, log, show --follow and cancel --wait with exit codes 0, 7 and 8', async () => {
    const cli = new Cli(server.api.replace(/\/api\/v1$/, ''));
    await cli.ok(['login', '--user', 'admin'], { LIFEBOAT_LOGIN_PASSWORD: ADMIN_PASSWORD });
    const warn = await startSession(admin, {
      kind: 'test.steps',
      name: 'cli warning',
      tasks: [{ resource: 'i-w', input: { steps: 3, stepMs: 100, warning: 'skipped one' } }],
    });
    const followed = await cli.run(['session', 'show', warn.id, '--follow']);
    expect(followed.code, followed.stderr).toBe(7);
    expect(followed.stdout).toMatch(/session .* warning/);
    const ok = await startSession(admin, { kind: 'test.steps', tasks: [{ input: { steps: 1, stepMs: 1 } }] });
    await ended(ok.id);
    expect((await cli.run(['session', 'show', ok.id, '--follow'])).code).toBe(0);
    const list = await cli.ok(['session', 'list', '--limit', '3']);
    expect(list.stdout).toContain(ok.id);
    const shown = await cli.json<Session>(['session', 'show', warn.id]);
    expect(shown.state).toBe('warning');
    const text = await cli.ok(['session', 'show', warn.id]);
    expect(text.stdout).toMatch(/i-w\s+-\s+warning\s+100%/);
    const log = await cli.ok(['session', 'log', warn.id]);
    expect(log.stdout).toContain('ended with a warning: skipped one');
    const slow = await startSession(admin, {
      kind: 'test.steps',
      tasks: [{ input: { steps: 200, stepMs: 50 } }],
    });
    const follow = cli.run(['session', 'log', slow.id, '--follow']);
    await sleep(300);
    const cancelled = await cli.run(['session', 'cancel', slow.id, '--wait']);
    expect(cancelled.code, cancelled.stderr).toBe(8);
    expect(cancelled.stdout).toMatch(/cancelled/);
    const followedLog = await follow;
    expect(followedLog.code).toBe(8);
    expect(followedLog.stdout).toContain('session cancelled');
    expect((await cli.run(['session', 'show', 'nope'])).code).toBe(5);
  });
});

describe('kill -9', () => {
  it('at several points of two sessions: checkpointed tasks resume, the others are interrupted, queued ones run once', async () => {
    const data = join(tempDir('kill'), 'data');
    const record = join(tempDir('record'), 'runs.jsonl');
    writeFileSync(record, '');
    const start = () => ApplianceProcess.start({ data, args: ['--test-mode'], env: TEST_ENV });
    let proc = await start();
    let a = new Api(proc.api);
    const token = await a.login('admin', ADMIN_PASSWORD);
    const on = { account: '111111111111', region: 'us-east-1' };
    const slow = (checkpoint: boolean) => ({ ...on, input: { steps: 8, stepMs: 250, checkpoint, record } });
    // Session A fills the 4 slots of its (account, region); session B's tasks wait behind it: none of B ran.
    const A = (
      await a.call<Session>('POST', '/test/sessions', {
        token,
        body: { kind: 'test.steps', tasks: [slow(true), slow(true), slow(false), slow(false)] },
      })
    ).body;
    const B = (
      await a.call<Session>('POST', '/test/sessions', {
        token,
        body: {
          kind: 'test.steps',
          tasks: [
            { ...on, input: { steps: 2, stepMs: 20, record } },
            { ...on, input: { steps: 2, stepMs: 20, record } },
          ],
        },
      })
    ).body;
    // Point 1: A's tasks mid-way (two with a checkpoint, two without), B's not started.
    await waitFor('checkpoints of A', async () => {
      const r = await a.call<Session>('GET', `/sessions/${A.id}`, { token });
      return r.body.tasks.filter((t) => (t.checkpoint?.step ?? 0) >= 1).length >= 2 ? true : undefined;
    });
    const b1 = (await a.call<Session>('GET', `/sessions/${B.id}`, { token })).body;
    expect(b1.tasks.map((t) => t.state)).toEqual(['queued', 'queued']);
    await proc.stop('SIGKILL');

    // Point 2: right after the restart, while the checkpointed tasks are resumed: kill again.
    proc = await start();
    a = new Api(proc.api);
    const afterFirst = (await a.call<Session>('GET', `/sessions/${A.id}`, { token })).body;
    expect(afterFirst.tasks.map((t) => t.state)).toEqual([
      'running',
      'running',
      'interrupted',
      'interrupted',
    ]);
    expect(afterFirst.tasks[2]!.error).toEqual({
      code: 'INTERRUPTED',
      message: 'interrupted by an appliance restart',
    });
    await waitFor('a resumed step', async () => {
      const r = await a.call<Session>('GET', `/sessions/${A.id}`, { token });
      return r.body.tasks.some(
        (t) =>
          t.attempts === 2 &&
          (t.checkpoint?.step ?? 0) > (afterFirst.tasks.find((x) => x.id === t.id)!.checkpoint?.step ?? 0),
      )
        ? true
        : undefined;
    });
    await proc.stop('SIGKILL');

    // Point 3: the last restart; everything ends.
    proc = await start();
    a = new Api(proc.api);
    const endA = await ended(A.id, token, a);
    const endB = await ended(B.id, token, a);
    expect(endA.state).toBe('failed'); // two interrupted
    expect(endA.tasks.map((t) => t.state)).toEqual(['succeeded', 'succeeded', 'interrupted', 'interrupted']);
    expect(endA.tasks.map((t) => t.attempts)).toEqual([3, 3, 1, 1]);
    expect(endB.state).toBe('succeeded');
    expect(endB.tasks.map((t) => t.attempts)).toEqual([1, 1]);

    // The record: every task was run at most once; resumes start where the checkpoint was, never at 0.
    const lines = readFileSync(record, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { task: string; event: string; step: number });
    const of = (id: string, event: string) => lines.filter((l) => l.task === id && l.event === event);
    for (const t of [...endA.tasks, ...endB.tasks]) expect(of(t.id, 'run'), t.id).toHaveLength(1);
    for (const t of endA.tasks.slice(0, 2)) {
      const resumes = of(t.id, 'resume');
      expect(resumes).toHaveLength(2);
      expect(resumes[0]!.step).toBeGreaterThanOrEqual(1);
      expect(resumes[1]!.step).toBeGreaterThanOrEqual(resumes[0]!.step);
      expect(of(t.id, 'done')).toHaveLength(1);
    }
    for (const t of endA.tasks.slice(2)) {
      expect(of(t.id, 'resume')).toHaveLength(0);
      expect(of(t.id, 'done')).toHaveLength(0);
    }
    for (const t of endB.tasks) expect(of(t.id, 'done')).toHaveLength(1);
    await proc.stop();
  });
});
