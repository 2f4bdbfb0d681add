/** The job engine's stores (sessions, tasks, their log) as conformance cases: registered by catalogConformance. */
import { describe, expect, it } from 'vitest';
import { type Catalog, isCatalogError, type NewTask } from '../src/index.js';

const T0 = '2026-03-01T00:00:00.000Z';
const T1 = '2026-03-01T00:00:01.000Z';
const T2 = '2026-03-01T00:00:02.000Z';

const newSession = (id: string, at = T0, kind = 'test.kind') => ({
  id,
  kind,
  name: `session ${id}`,
  createdBy: 'alice',
  createdAt: at,
});

const newTask = (sessionId: string, seq: number, extra: Partial<NewTask> = {}): NewTask => ({
  id: `${sessionId}-t${seq}`,
  sessionId,
  seq,
  kind: 'test.kind',
  resource: `i-${seq}`,
  account: '111111111111',
  region: 'us-east-1',
  input: { n: seq },
  ...extra,
});

async function code(p: Promise<unknown>): Promise<string | undefined> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  return isCatalogError(err) ? err.code : String(err);
}

export function sessionConformance(catalog: () => Catalog): void {
  describe('sessions and tasks', () => {
    it('inserts a session queued with zero counts, and its tasks queued in seq order', async () => {
      const c = catalog();
      const s = await c.sessions.insert(newSession('s1'));
      expect(s).toMatchObject({
        id: 's1',
        kind: 'test.kind',
        state: 'queued',
        createdBy: 'alice',
        createdAt: T0,
        startedAt: null,
        endedAt: null,
        progress: 0,
        summary: null,
        cancelRequested: false,
      });
      expect(Object.values(s.counts).every((n) => n === 0)).toBe(true);
      await c.tasks.insert(newTask('s1', 2));
      const t1 = await c.tasks.insert(newTask('s1', 1, { input: undefined, resource: null }));
      expect(t1).toMatchObject({
        state: 'queued',
        attempts: 0,
        progress: 0,
        input: null,
        resource: null,
        checkpoint: null,
        error: null,
        result: null,
      });
      expect((await c.tasks.ofSession('s1')).map((t) => t.seq)).toEqual([1, 2]);
      expect((await c.sessions.get('s1'))!.counts.queued).toBe(2);
      expect(await code(c.sessions.insert(newSession('s1')))).toBe('CONFLICT');
      expect(await code(c.tasks.insert(newTask('s1', 1, { id: 'other' })))).toBe('CONFLICT');
      expect(await c.sessions.get('nope')).toBeUndefined();
    });

    it('updates tasks (state, timings, error, checkpoint JSON) and sessions; NOT_FOUND for unknown ids', async () => {
      const c = catalog();
      await c.sessions.insert(newSession('s1'));
      await c.tasks.insert(newTask('s1', 1));
      const t = await c.tasks.update('s1-t1', {
        state: 'running',
        attempts: 1,
        startedAt: T1,
        progress: 0.5,
        note: 'half',
        checkpoint: { snapshot: 'snap-1', step: 2 },
      });
      expect(t).toMatchObject({ state: 'running', attempts: 1, startedAt: T1, progress: 0.5, note: 'half' });
      expect(t.checkpoint).toEqual({ snapshot: 'snap-1', step: 2 });
      const failed = await c.tasks.update('s1-t1', {
        state: 'failed',
        endedAt: T2,
        error: { code: 'Boom', message: 'it broke' },
        result: { n: 1 },
      });
      expect(failed.error).toEqual({ code: 'Boom', message: 'it broke' });
      expect(failed.result).toEqual({ n: 1 });
      expect((await c.tasks.update('s1-t1', { error: null, checkpoint: null })).error).toBeNull();
      expect((await c.tasks.get('s1-t1'))!.checkpoint).toBeNull();
      const s = await c.sessions.update('s1', {
        state: 'failed',
        startedAt: T1,
        endedAt: T2,
        progress: 1,
        summary: { failed: 1 },
        cancelRequested: true,
      });
      expect(s).toMatchObject({ state: 'failed', endedAt: T2, progress: 1, cancelRequested: true });
      expect(s.summary).toEqual({ failed: 1 });
      expect(s.counts.failed).toBe(1);
      expect(await code(c.sessions.update('nope', { state: 'failed' }))).toBe('NOT_FOUND');
      expect(await code(c.tasks.update('nope', { state: 'failed' }))).toBe('NOT_FOUND');
    });

    it('lists newest first with keyset paging and state/kind filters; unfinished oldest first', async () => {
      const c = catalog();
      await c.sessions.insert(newSession('a', T0));
      await c.sessions.insert(newSession('b', T1, 'other'));
      await c.sessions.insert(newSession('c', T1));
      await c.sessions.insert(newSession('d', T2));
      await c.sessions.update('d', { state: 'succeeded' });
      const ids = async (q: Parameters<Catalog['sessions']['list']>[0]) =>
        (await c.sessions.list(q)).map((s) => s.id);
      expect(await ids({ limit: 2 })).toEqual(['d', 'c']);
      expect(await ids({ limit: 2, before: { createdAt: T1, id: 'c' } })).toEqual(['b', 'a']);
      expect(await ids({ limit: 10, kind: 'other' })).toEqual(['b']);
      expect(await ids({ limit: 10, state: 'succeeded' })).toEqual(['d']);
      expect((await c.sessions.unfinished()).map((s) => s.id)).toEqual(['a', 'b', 'c']);
      await c.tasks.insert(newTask('a', 1));
      await c.tasks.insert(newTask('c', 1));
      await c.tasks.update('c-t1', { state: 'running' });
      expect((await c.tasks.inStates(['running'])).map((t) => t.id)).toEqual(['c-t1']);
      expect((await c.tasks.inStates(['queued', 'running'])).map((t) => t.id)).toEqual(['a-t1', 'c-t1']);
      expect(await c.tasks.inStates([])).toEqual([]);
    });

    it('keeps log lines per session, oldest first, paged by id, filtered by task', async () => {
      const c = catalog();
      await c.sessions.insert(newSession('s1'));
      await c.sessions.insert(newSession('s2'));
      const l1 = await c.sessions.appendLog({
        sessionId: 's1',
        taskId: null,
        at: T0,
        level: 'info',
        message: 'started',
      });
      expect(l1).toMatchObject({ sessionId: 's1', taskId: null, level: 'info', message: 'started' });
      for (let i = 0; i < 3; i++) {
        await c.sessions.appendLog({
          sessionId: 's1',
          taskId: 't1',
          at: T1,
          level: 'warn',
          message: `m${i}`,
        });
      }
      await c.sessions.appendLog({ sessionId: 's2', taskId: null, at: T1, level: 'error', message: 'other' });
      const all = await c.sessions.log({ sessionId: 's1', limit: 10 });
      expect(all.map((l) => l.message)).toEqual(['started', 'm0', 'm1', 'm2']);
      const page = await c.sessions.log({ sessionId: 's1', limit: 2, after: all[1]!.id });
      expect(page.map((l) => l.message)).toEqual(['m1', 'm2']);
      expect((await c.sessions.log({ sessionId: 's1', taskId: 't1', limit: 10 })).length).toBe(3);
    });

    it('writes a session and its tasks in one transaction, or none of them', async () => {
      const c = catalog();
      await expect(
        c.transaction(async (tx) => {
          await tx.sessions.insert(newSession('s1'));
          await tx.tasks.insert(newTask('s1', 1));
          await tx.tasks.insert(newTask('s1', 1, { id: 'dup' }));
        }),
      ).rejects.toMatchObject({ code: 'CONFLICT' });
      expect(await c.sessions.get('s1')).toBeUndefined();
      expect(await c.tasks.get('s1-t1')).toBeUndefined();
    });
  });
}
