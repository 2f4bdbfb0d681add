import { randomUUID } from 'node:crypto';
import {
  type Catalog,
  type CatalogStores,
  isCatalogError,
  type LogLevel,
  type SessionQuery,
  type SessionRecord,
  type SessionState,
  type TaskLogLine,
  type TaskRecord,
  type TaskState,
} from '@lifeboat/catalog';
import type { Actor, AuditLog } from '../audit.js';
import { type Clock, iso, sleepOn } from '../clock.js';
import { ApplianceError } from '../errors.js';
import type { EventHub } from '../events.js';
import { withRetries } from './retry.js';
import {
  ApplianceStopping,
  DEFAULT_JOB_LIMITS,
  type JobLimits,
  SESSION_TAG,
  type SessionSpec,
  TASK_TAG,
  TaskCancelled,
  type TaskContext,
  type TaskKind,
  type TaskResult,
} from './types.js';

/** The live event topic of sessions (readable with sessions.read). */
export const SESSION_TOPIC = 'session.progress';
/** Progress events per session at most every this many milliseconds (state changes go out at once). */
const PROGRESS_EVERY_MS = 250;
/** How long close() waits for running handlers to stop after their signal aborted. */
const STOP_WAIT_MS = 10_000;

const ENDED: ReadonlySet<string> = new Set(['succeeded', 'warning', 'failed', 'cancelled', 'interrupted']);
const isEnded = (state: TaskState | SessionState) => ENDED.has(state);

export interface SessionEvent {
  sessionId: string;
  taskId?: string;
  state: TaskState | SessionState;
  progress: number;
}

export interface SessionWithTasks extends SessionRecord {
  tasks: TaskRecord[];
}

interface Queued {
  task: TaskRecord;
  /** resume() rather than run(): the task was left running by a restart and can be resumed. */
  resume: boolean;
}

interface Running {
  sessionId: string;
  controller: AbortController;
  done: Promise<void>;
  progress: number;
  note: string | null;
  dirty: boolean;
}

/**
 * The job engine: sessions of tasks, run by registered task kinds under concurrency limits per (account, region)
 * and overall, every state change persisted in the catalog (in one transaction where two rows change) and
 * published on `session.progress`. A task's failure never fails its neighbours; cancel aborts the running ones and
 * cancels the queued ones; after a restart (kill -9 included), a task left running is resumed when its kind can,
 * else failed `interrupted`, never run twice.
 */
export class JobEngine {
  private readonly kinds = new Map<string, TaskKind>();
  private readonly queue: Queued[] = [];
  private readonly running = new Map<string, Running>();
  private readonly perKey = new Map<string, number>();
  /** Running tasks that gave their slot up while they wait (ctx.park). */
  private parked = 0;
  /** Session kinds whose end state is not sessionStateOf's (a policy run with some failed instances: warning). */
  private readonly outcomes = new Map<string, typeof sessionStateOf>();
  /** Parked tasks whose wait ended, waiting for a slot again (served before the queue). */
  private readonly unparking: Array<{ key: string; resume: () => void }> = [];
  private readonly waiters = new Map<string, Array<(s: SessionRecord) => void>>();
  private readonly flushes = new Map<string, { timer: NodeJS.Timeout | undefined; last: number }>();
  private readonly limits: JobLimits;
  private started = false;
  private stopping = false;

  constructor(
    private readonly catalog: Catalog,
    private readonly events: EventHub,
    private readonly audit: AuditLog,
    readonly clock: Clock,
    limits: Partial<JobLimits> = {},
  ) {
    this.limits = { ...DEFAULT_JOB_LIMITS, ...limits };
    if (!(this.limits.perAccountRegion >= 1 && this.limits.overall >= 1)) {
      throw new RangeError('job limits must be at least 1');
    }
  }

  /** How sessions of `kind` end, from their tasks (default: sessionStateOf, any failed task fails the session). */
  setSessionOutcome(kind: string, outcome: typeof sessionStateOf): void {
    this.outcomes.set(kind, outcome);
  }

  /** Adds a task kind; before start() for tasks that a restart resumes. */
  register(...kinds: TaskKind[]): void {
    for (const k of kinds) {
      if (this.kinds.has(k.kind)) throw new Error(`task kind ${k.kind} is registered already`);
      this.kinds.set(k.kind, k);
    }
  }

  hasKind(kind: string): boolean {
    return this.kinds.has(kind);
  }

  /**
   * Picks up what the last run of the appliance left (Appliance.open calls it once kinds are registered): tasks
   * left running are resumed or failed `interrupted`, queued tasks of unfinished sessions go on.
   */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    for (const session of await this.catalog.sessions.unfinished()) {
      for (const task of await this.catalog.tasks.ofSession(session.id)) {
        if (task.state === 'running') {
          const kind = this.kinds.get(task.kind);
          let resumable = false;
          if (kind?.resume && !session.cancelRequested) {
            try {
              resumable = await (kind.canResume ? kind.canResume(task) : task.checkpoint !== null);
            } catch (err) {
              await this.log(
                session.id,
                task.id,
                'warn',
                `cannot tell whether it can resume: ${messageOf(err)}`,
              );
            }
          }
          if (resumable) {
            this.queue.push({ task, resume: true });
            await this.log(session.id, task.id, 'info', 'the appliance restarted while it ran: resuming it');
          } else {
            await this.end(task, 'interrupted', {
              error: { code: 'INTERRUPTED', message: 'interrupted by an appliance restart' },
            });
          }
        } else if (task.state === 'queued') {
          if (session.cancelRequested) {
            await this.end(task, 'cancelled', {
              error: { code: 'CANCELLED', message: 'the session was cancelled before it started' },
            });
          } else this.queue.push({ task, resume: false });
        }
      }
      await this.finishIfDone(session.id);
    }
    this.pump();
  }

  /** Creates a session and its tasks (queued, in this order) and starts what the limits allow. */
  async startSession(actor: Actor, spec: SessionSpec): Promise<SessionWithTasks> {
    if (this.stopping)
      throw new ApplianceError('BUSY', 'the appliance is stopping: start the session again later');
    for (const t of spec.tasks) {
      const kind = t.kind ?? spec.kind;
      if (!this.kinds.has(kind)) {
        throw new ApplianceError('VALIDATION_FAILED', `no task kind ${kind} in this appliance`);
      }
    }
    const id = randomUUID();
    const at = iso(this.clock);
    const created = await this.audit.change(actor, async (tx, note) => {
      const session = await tx.sessions.insert({
        id,
        kind: spec.kind,
        name: spec.name ?? spec.kind,
        createdBy: actor.name,
        createdAt: at,
      });
      const tasks: TaskRecord[] = [];
      let seq = 0;
      for (const t of spec.tasks) {
        tasks.push(
          await tx.tasks.insert({
            id: randomUUID(),
            sessionId: id,
            seq: ++seq,
            kind: t.kind ?? spec.kind,
            resource: t.resource ?? null,
            account: t.account ?? null,
            region: t.region ?? null,
            input: t.input ?? null,
          }),
        );
      }
      await note({
        action: 'session.start',
        target: `session/${id}`,
        details: { kind: spec.kind, name: session.name, tasks: tasks.length },
      });
      return { session, tasks };
    });
    for (const task of created.tasks) this.queue.push({ task, resume: false });
    await this.publish({ sessionId: id, state: 'queued', progress: 0 });
    if (created.tasks.length === 0) await this.finishIfDone(id);
    this.pump();
    return this.get(id);
  }

  async get(id: string): Promise<SessionWithTasks> {
    const session = await this.catalog.sessions.get(id);
    if (!session) throw new ApplianceError('NOT_FOUND', `no session ${id}`);
    return { ...session, tasks: await this.catalog.tasks.ofSession(id) };
  }

  list(query: SessionQuery): Promise<SessionRecord[]> {
    return this.catalog.sessions.list(query);
  }

  async log(sessionId: string, taskId: string | null, level: LogLevel, message: string): Promise<void> {
    await this.catalog.sessions.appendLog({ sessionId, taskId, at: iso(this.clock), level, message });
  }

  async readLog(query: {
    sessionId: string;
    taskId?: string;
    after?: number;
    limit: number;
  }): Promise<TaskLogLine[]> {
    if (!(await this.catalog.sessions.get(query.sessionId))) {
      throw new ApplianceError('NOT_FOUND', `no session ${query.sessionId}`);
    }
    return this.catalog.sessions.log(query);
  }

  /**
   * Asks a session to stop: queued tasks are cancelled, running ones get their signal aborted; the session ends
   * `cancelled` once they stopped (whenEnded). A session that ended already is answered as it is.
   */
  async cancel(actor: Actor, id: string): Promise<SessionWithTasks> {
    const session = await this.catalog.sessions.get(id);
    if (!session) throw new ApplianceError('NOT_FOUND', `no session ${id}`);
    if (isEnded(session.state)) return this.get(id);
    const at = iso(this.clock);
    const cancelled = await this.audit.change(actor, async (tx, note) => {
      await tx.sessions.update(id, { cancelRequested: true });
      const ids: string[] = [];
      for (const t of await tx.tasks.ofSession(id)) {
        if (t.state !== 'queued') continue;
        await tx.tasks.update(t.id, {
          state: 'cancelled',
          endedAt: at,
          error: {
            code: 'CANCELLED',
            message: `cancelled by ${actor.name ?? 'the appliance'} before it started`,
          },
        });
        ids.push(t.id);
      }
      await note({
        action: 'session.cancel',
        target: `session/${id}`,
        details: { queuedCancelled: ids.length },
      });
      return ids;
    });
    const waitingResume: TaskRecord[] = [];
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const q = this.queue[i]!;
      if (q.task.sessionId !== id) continue;
      this.queue.splice(i, 1);
      if (q.resume) waitingResume.push(q.task);
    }
    for (const task of waitingResume) {
      await this.end(task, 'cancelled', {
        error: {
          code: 'CANCELLED',
          message: `cancelled by ${actor.name ?? 'the appliance'} before it resumed`,
        },
      });
    }
    for (const taskId of cancelled)
      await this.publish({ sessionId: id, taskId, state: 'cancelled', progress: 0 });
    for (const r of this.running.values()) {
      if (r.sessionId === id)
        r.controller.abort(new TaskCancelled(`cancelled by ${actor.name ?? 'the appliance'}`));
    }
    await this.finishIfDone(id);
    return this.get(id);
  }

  /** Resolves with the session once it ended. */
  async whenEnded(id: string): Promise<SessionRecord> {
    const session = await this.catalog.sessions.get(id);
    if (!session) throw new ApplianceError('NOT_FOUND', `no session ${id}`);
    if (isEnded(session.state)) return session;
    return new Promise((resolve) => {
      const list = this.waiters.get(id) ?? [];
      list.push(resolve);
      this.waiters.set(id, list);
    });
  }

  /** Tasks running now (for tests and status). */
  runningCount(): number {
    return this.running.size;
  }

  /**
   * Stops: nothing new starts, running handlers are aborted and awaited (at most 10 s). Their tasks stay
   * `running` in the catalog, to be resumed or interrupted by the next start, as after kill -9.
   */
  async close(): Promise<void> {
    this.stopping = true;
    this.queue.length = 0;
    for (const f of this.flushes.values()) clearTimeout(f.timer);
    const all = [...this.running.values()];
    for (const r of all) r.controller.abort(new ApplianceStopping('the appliance is stopping'));
    await Promise.race([
      Promise.allSettled(all.map((r) => r.done)),
      new Promise((r) => setTimeout(r, STOP_WAIT_MS).unref()),
    ]);
  }

  /** Tasks holding a slot: running and not parked. */
  private active(): number {
    return this.running.size - this.parked;
  }

  /**
   * Runs fn (a long wait on AWS, e.g. for snapshots to complete) without holding the task's slot, so that other
   * tasks of the account × region start meanwhile; takes a slot again (before queued tasks) when fn settles.
   */
  private async park<T>(key: string, fn: () => Promise<T>): Promise<T> {
    this.parked++;
    this.release(key);
    this.pump();
    try {
      return await fn();
    } finally {
      await new Promise<void>((resume) => {
        this.unparking.push({ key, resume });
        if (this.stopping) {
          // Nothing starts any more: let the task see its abort at once.
          this.unparking.pop();
          this.parked--;
          this.perKey.set(key, (this.perKey.get(key) ?? 0) + 1);
          resume();
          return;
        }
        this.pump();
      });
    }
  }

  private release(key: string): void {
    const n = (this.perKey.get(key) ?? 1) - 1;
    if (n > 0) this.perKey.set(key, n);
    else this.perKey.delete(key);
  }

  /** Starts queued tasks while the limits allow, in queue order (a full key does not hold up the others). */
  private pump(): void {
    if (!this.started || this.stopping) return;
    for (let i = 0; i < this.unparking.length && this.active() < this.limits.overall; ) {
      const u = this.unparking[i]!;
      if ((this.perKey.get(u.key) ?? 0) >= this.limits.perAccountRegion) {
        i++;
        continue;
      }
      this.unparking.splice(i, 1);
      this.parked--;
      this.perKey.set(u.key, (this.perKey.get(u.key) ?? 0) + 1);
      u.resume();
    }
    for (let i = 0; i < this.queue.length && this.active() < this.limits.overall; ) {
      const entry = this.queue[i]!;
      const key = keyOf(entry.task);
      if ((this.perKey.get(key) ?? 0) >= this.limits.perAccountRegion) {
        i++;
        continue;
      }
      this.queue.splice(i, 1);
      this.perKey.set(key, (this.perKey.get(key) ?? 0) + 1);
      const controller = new AbortController();
      const running: Running = {
        sessionId: entry.task.sessionId,
        controller,
        done: Promise.resolve(),
        progress: entry.task.progress,
        note: entry.task.note,
        dirty: false,
      };
      this.running.set(entry.task.id, running);
      running.done = this.execute(entry, running)
        .catch((err) => {
          process.stderr.write(`job engine: task ${entry.task.id}: ${messageOf(err)}\n`);
        })
        .finally(() => {
          this.running.delete(entry.task.id);
          this.release(key);
          this.pump();
        });
    }
  }

  private async execute(entry: Queued, running: Running): Promise<void> {
    const kind = this.kinds.get(entry.task.kind);
    if (!kind) {
      await this.end(entry.task, 'failed', {
        error: { code: 'UNKNOWN_KIND', message: `no task kind ${entry.task.kind} in this appliance` },
      });
      return;
    }
    const at = iso(this.clock);
    const started = await this.catalog.transaction(async (tx) => {
      const current = await tx.tasks.get(entry.task.id);
      // Cancelled meanwhile; or already started once (only a resume may start a running task again).
      if (!current || current.state !== (entry.resume ? 'running' : 'queued')) return undefined;
      const session = await tx.sessions.get(current.sessionId);
      if (!session || session.cancelRequested) return undefined;
      const task = await tx.tasks.update(current.id, {
        state: 'running',
        attempts: current.attempts + 1,
        startedAt: current.startedAt ?? at,
      });
      if (session.state === 'queued') {
        await tx.sessions.update(session.id, { state: 'running', startedAt: session.startedAt ?? at });
      }
      return { task, session };
    });
    if (!started) return;
    const { task, session } = started;
    await this.publish({
      sessionId: task.sessionId,
      taskId: task.id,
      state: 'running',
      progress: task.progress,
    });
    if (session.state === 'queued') {
      await this.publish({ sessionId: session.id, state: 'running', progress: session.progress });
    }
    await this.log(task.sessionId, task.id, 'info', entry.resume ? 'resuming' : 'started');
    const signal = running.controller.signal;
    const tags = { [SESSION_TAG]: task.sessionId, [TASK_TAG]: task.id };
    const ctx: TaskContext = {
      task,
      session: { id: session.id, kind: session.kind, name: session.name, createdBy: session.createdBy },
      signal,
      clock: this.clock,
      resuming: entry.resume,
      progress: (fraction, note) => {
        running.progress = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
        if (note !== undefined) running.note = note;
        running.dirty = true;
        this.scheduleFlush(task.sessionId);
      },
      log: (level, message) => this.log(task.sessionId, task.id, level, message),
      checkpoint: async (value) => {
        await this.catalog.tasks.update(task.id, { checkpoint: value ?? null });
      },
      tags: () => ({ ...tags }),
      awsTags: () => Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
      withRetries: (fn, options) =>
        withRetries(fn, {
          ...options,
          clock: this.clock,
          signal,
          onRetry: ({ attempt, reason, delayMs, error }) =>
            void this.log(
              task.sessionId,
              task.id,
              'warn',
              `${reason === 'throttling' ? 'throttled' : reason === 'network' ? 'network error' : 'server error'} ` +
                `(${nameOf(error)}): attempt ${attempt + 1} in ${delayMs} ms`,
            ).catch(() => {}),
        }),
      sleep: (ms) => sleepOn(this.clock, ms, signal),
      park: (fn) => this.park(keyOf(task), fn),
    };
    let outcome: TaskResult;
    try {
      outcome = await (entry.resume && kind.resume ? kind.resume(ctx) : kind.run(ctx));
    } catch (err) {
      if (signal.reason instanceof ApplianceStopping) return; // stays running: the next start decides
      if (signal.reason instanceof TaskCancelled) {
        await this.end(task, 'cancelled', {
          error: { code: 'CANCELLED', message: signal.reason.message },
          progress: running.progress,
        });
        return;
      }
      await this.end(task, 'failed', {
        error: { code: codeOf(err), message: messageOf(err) },
        progress: running.progress,
      });
      return;
    }
    const warning = outcome && typeof outcome.warning === 'string' ? outcome.warning : undefined;
    await this.end(task, warning ? 'warning' : 'succeeded', {
      progress: 1,
      result: outcome?.result ?? null,
      ...(warning && { warning }),
    });
  }

  /** A task's last state change, and its session's when that was the last task. */
  private async end(
    task: TaskRecord,
    state: TaskState,
    extra: {
      error?: { code: string; message: string };
      progress?: number;
      result?: unknown;
      warning?: string;
    },
  ): Promise<void> {
    const at = iso(this.clock);
    const ended = await this.catalog.transaction(async (tx) => {
      const t = await tx.tasks.update(task.id, {
        state,
        endedAt: at,
        ...(extra.progress !== undefined && { progress: extra.progress }),
        ...(extra.error && { error: extra.error }),
        ...(extra.result !== undefined && { result: extra.result }),
      });
      const message =
        state === 'succeeded'
          ? 'succeeded'
          : state === 'warning'
            ? `ended with a warning: ${extra.warning}`
            : `${state}: ${extra.error?.message ?? ''}`;
      const level: LogLevel = state === 'succeeded' ? 'info' : state === 'warning' ? 'warn' : 'error';
      await tx.sessions.appendLog({ sessionId: task.sessionId, taskId: task.id, at, level, message });
      return { t, session: await this.finishIn(tx, task.sessionId, at) };
    });
    await this.publish({ sessionId: task.sessionId, taskId: task.id, state, progress: ended.t.progress });
    if (ended.session) this.ended(ended.session);
  }

  /** Ends the session when no task is queued or running any more (after a cancel, at start). */
  private async finishIfDone(sessionId: string): Promise<void> {
    const session = await this.catalog.transaction((tx) => this.finishIn(tx, sessionId, iso(this.clock)));
    if (session) this.ended(session);
  }

  private async finishIn(
    tx: CatalogStores,
    sessionId: string,
    at: string,
  ): Promise<SessionRecord | undefined> {
    const session = await tx.sessions.get(sessionId);
    if (!session || isEnded(session.state)) return undefined;
    // The session's tasks per state come with it (one grouped count): while some are queued or running, as at
    // every task's end but the last, its tasks (inputs, checkpoints, results) need not be read.
    if (Object.entries(session.counts).some(([state, n]) => n > 0 && !isEnded(state as TaskState))) {
      return undefined;
    }
    const tasks = await tx.tasks.ofSession(sessionId);
    if (tasks.some((t) => !isEnded(t.state))) return undefined;
    const state = (this.outcomes.get(session.kind) ?? sessionStateOf)(session.cancelRequested, tasks);
    const counts = Object.fromEntries(Object.entries(session.counts).filter(([, n]) => n > 0));
    await tx.sessions.appendLog({ sessionId, taskId: null, at, level: 'info', message: `session ${state}` });
    return tx.sessions.update(sessionId, {
      state,
      startedAt: session.startedAt ?? at,
      endedAt: at,
      progress: 1,
      summary: { tasks: tasks.length, ...counts },
    });
  }

  private ended(session: SessionRecord): void {
    void this.publish({ sessionId: session.id, state: session.state, progress: session.progress });
    const flush = this.flushes.get(session.id);
    clearTimeout(flush?.timer);
    this.flushes.delete(session.id);
    for (const resolve of this.waiters.get(session.id) ?? []) resolve(session);
    this.waiters.delete(session.id);
  }

  /** Progress is saved and published per session at most every PROGRESS_EVERY_MS, the last value always. */
  private scheduleFlush(sessionId: string): void {
    if (this.stopping) return;
    const f = this.flushes.get(sessionId) ?? { timer: undefined, last: 0 };
    this.flushes.set(sessionId, f);
    if (f.timer) return;
    const wait = Math.max(0, f.last + PROGRESS_EVERY_MS - Date.now());
    f.timer = setTimeout(() => {
      f.timer = undefined;
      f.last = Date.now();
      this.flush(sessionId).catch((err) =>
        process.stderr.write(`job engine: progress of session ${sessionId}: ${messageOf(err)}\n`),
      );
    }, wait);
  }

  private async flush(sessionId: string): Promise<void> {
    const dirty = [...this.running.entries()].filter(([, r]) => r.sessionId === sessionId && r.dirty);
    if (dirty.length === 0) return;
    const session = await this.catalog.transaction(async (tx) => {
      for (const [taskId, r] of dirty) {
        r.dirty = false;
        const t = await tx.tasks.get(taskId);
        if (t?.state === 'running') await tx.tasks.update(taskId, { progress: r.progress, note: r.note });
      }
      const s = await tx.sessions.get(sessionId);
      if (!s || isEnded(s.state)) return undefined;
      // From the session's task counts and the running tasks' progress in memory: reading every task (inputs and
      // all) four times a second cost more than the tasks' own work in a session of hundreds.
      const total = Object.values(s.counts).reduce((a, b) => a + b, 0);
      const ended = total - s.counts.queued - s.counts.running;
      let running = 0;
      for (const r of this.running.values()) if (r.sessionId === sessionId) running += r.progress;
      const progress = total === 0 ? 0 : Math.min(1, (ended + running) / total);
      return tx.sessions.update(sessionId, { progress });
    });
    if (session) await this.publish({ sessionId, state: session.state, progress: session.progress });
  }

  private async publish(event: SessionEvent): Promise<void> {
    try {
      await this.events.publish(SESSION_TOPIC, event);
    } catch (err) {
      // An event that cannot be written is not worth failing a task for: the catalog holds the state.
      if (!isCatalogError(err)) process.stderr.write(`job engine: event not published: ${messageOf(err)}\n`);
    }
  }
}

/** cancelled when asked; else failed if any task failed or was interrupted; else warning if any; else succeeded. */
export function sessionStateOf(
  cancelRequested: boolean,
  tasks: Array<Pick<TaskRecord, 'state'>>,
): SessionState {
  if (cancelRequested) return 'cancelled';
  if (tasks.some((t) => t.state === 'failed' || t.state === 'interrupted')) return 'failed';
  if (tasks.some((t) => t.state === 'cancelled')) return 'cancelled';
  if (tasks.some((t) => t.state === 'warning')) return 'warning';
  return 'succeeded';
}

/** Some tasks failing makes a warning; only all of them failing fails the session. */
export function partialSessionState(
  cancelRequested: boolean,
  tasks: Array<Pick<TaskRecord, 'state'>>,
): SessionState {
  if (cancelRequested) return 'cancelled';
  const failed = tasks.filter((t) => t.state === 'failed' || t.state === 'interrupted').length;
  if (failed > 0 && failed === tasks.length) return 'failed';
  if (tasks.some((t) => t.state === 'cancelled')) return 'cancelled';
  if (failed > 0 || tasks.some((t) => t.state === 'warning')) return 'warning';
  return 'succeeded';
}

const keyOf = (t: TaskRecord) => `${t.account ?? ''}/${t.region ?? ''}`;

function nameOf(err: unknown): string {
  const e = err as {
    name?: string;
    code?: string;
    awsCode?: string;
    status?: number;
    $metadata?: { httpStatusCode?: number };
  };
  // AwsCallError (@lifeboat/aws): AWS's own code and status.
  const status = e?.$metadata?.httpStatusCode ?? (e?.awsCode !== undefined ? e.status : undefined);
  return `${e?.awsCode ?? e?.name ?? e?.code ?? 'Error'}${status ? ` ${status}` : ''}`;
}

function codeOf(err: unknown): string {
  const e = err as { code?: unknown; name?: unknown; awsCode?: unknown };
  if (typeof e?.code === 'string' && e.code) return e.code;
  if (typeof e?.awsCode === 'string' && e.awsCode) return e.awsCode;
  if (typeof e?.name === 'string' && e.name && e.name !== 'Error') return e.name;
  return 'TASK_FAILED';
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
