import type { LogLevel, SessionRecord, TaskRecord } from '@lifeboat/catalog';
import type { Clock } from '../clock.js';
import type { RetryOptions } from './retry.js';

/** The tags put on everything a task creates: on restart its side effects are found by them. */
export const SESSION_TAG = 'lifeboat:session';
export const TASK_TAG = 'lifeboat:task';

/** What a task handler gets. */
export interface TaskContext {
  /** The task as it was when this run started (input, checkpoint, attempts). */
  readonly task: TaskRecord;
  readonly session: Pick<SessionRecord, 'id' | 'kind' | 'name' | 'createdBy'>;
  /** Aborted on cancel (reason: a TaskCancelled) and on appliance shutdown: stop soon, and throw. */
  readonly signal: AbortSignal;
  /** The appliance's clock (a test clock in test mode): use it, and `sleep`, for every wait. */
  readonly clock: Clock;
  /** True when this is resume(): the appliance restarted while the task ran. */
  readonly resuming: boolean;
  /** 0..1, with an optional note (`3 of 8 volumes`); saved and published at most a few times a second. */
  progress(fraction: number, note?: string): void;
  /** A line of the session's log, for this task. */
  log(level: LogLevel, message: string): Promise<void>;
  /** Saves what resume() needs (JSON) before the next side effect; replaces the previous checkpoint. */
  checkpoint(value: unknown): Promise<void>;
  /** `{ 'lifeboat:session': id, 'lifeboat:task': id }`: put them on anything the task creates, at creation. */
  tags(): Record<string, string>;
  /** The same as AWS wants them (`TagSpecifications[].Tags`). */
  awsTags(): Array<{ Key: string; Value: string }>;
  /** fn again after AWS throttling, 5xx and network errors, with backoff and jitter (see withRetries). */
  withRetries<T>(fn: (attempt: number) => Promise<T>, options?: RetryOptions): Promise<T>;
  /** Waits on the appliance's clock; rejects when the task is cancelled. */
  sleep(ms: number): Promise<void>;
  /**
   * Runs fn, a long wait rather than work (snapshots completing), without holding the task's concurrency slot:
   * other tasks of its account × region start meanwhile; the slot is taken again before fn's result returns.
   */
  park<T>(fn: () => Promise<T>): Promise<T>;
}

/** What a handler may return: a warning makes the task (and its session) end `warning`. */
export interface TaskOutcome {
  warning?: string;
  /** Kept with the task (JSON). */
  result?: unknown;
}

/** A handler may return nothing (success) or an outcome. */
// biome-ignore lint/suspicious/noConfusingVoidType: an async handler without a return statement returns void
export type TaskResult = TaskOutcome | undefined | void;

/**
 * A kind of task the engine runs. `run` does the work; it throws to fail (a TaskError sets the error code).
 * After a restart, a task left running is given to `resume` when the kind has one and `canResume` says yes
 * (by default: the task saved a checkpoint); any other is failed `interrupted` and never run again.
 */
export interface TaskKind {
  kind: string;
  run(ctx: TaskContext): Promise<TaskResult>;
  resume?(ctx: TaskContext): Promise<TaskResult>;
  /** e.g. look its side effects up by its tags; default `task.checkpoint !== null`. */
  canResume?(task: TaskRecord): boolean | Promise<boolean>;
}

/** A failure with a stable code (the task's `error.code`). */
export class TaskError extends Error {
  override name = 'TaskError';
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The abort reason of a cancelled task. */
export class TaskCancelled extends Error {
  override name = 'AbortError';
  readonly code = 'CANCELLED';
}

/** The abort reason when the appliance stops: the task stays `running` and is resumed or interrupted at restart. */
export class ApplianceStopping extends Error {
  override name = 'AbortError';
  readonly code = 'APPLIANCE_STOPPING';
}

export interface JobLimits {
  /** Running tasks per (account, region) (default 4). */
  perAccountRegion: number;
  /** Running tasks in all (default 8). */
  overall: number;
}

export const DEFAULT_JOB_LIMITS: JobLimits = { perAccountRegion: 4, overall: 8 };

/** A task of a new session. */
export interface TaskSpec {
  /** Default: the session's kind. */
  kind?: string;
  resource?: string | null;
  account?: string | null;
  region?: string | null;
  input?: unknown;
}

export interface SessionSpec {
  kind: string;
  name?: string;
  tasks: TaskSpec[];
}
