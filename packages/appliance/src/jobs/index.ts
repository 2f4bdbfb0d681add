export {
  JobEngine,
  partialSessionState,
  SESSION_TOPIC,
  type SessionEvent,
  type SessionWithTasks,
  sessionStateOf,
} from './engine.js';
export {
  DEFAULT_RETRY,
  type RetryContext,
  type RetryOptions,
  type RetryReason,
  retryReason,
  withRetries,
} from './retry.js';
export { TEST_TASK_KINDS } from './test-kinds.js';
export { advanceTestClock, type ClockAdvance } from './test-mode.js';
export {
  ApplianceStopping,
  DEFAULT_JOB_LIMITS,
  type JobLimits,
  SESSION_TAG,
  type SessionSpec,
  TASK_TAG,
  TaskCancelled,
  type TaskContext,
  TaskError,
  type TaskKind,
  type TaskOutcome,
  type TaskResult,
  type TaskSpec,
} from './types.js';
