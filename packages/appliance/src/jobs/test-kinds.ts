/**
 * TEST-ONLY task kinds: registered only by `lifeboat server --test-mode` with LIFEBOAT_TEST_TASK_KINDS=1, so that
 * the engine (limits, cancel, restart after kill -9, progress events) can be tested over HTTP before any product
 * kind exists. Never part of a real appliance.
 */
import { appendFileSync } from 'node:fs';
import { type TaskContext, TaskError, type TaskKind, type TaskOutcome } from './types.js';

interface StepsInput {
  /** How many steps (default 5). */
  steps?: number;
  /** Each step's wait on the appliance clock (default 100 ms). */
  stepMs?: number;
  /** Save `{ step }` after each step, so that a restart resumes (default true). */
  checkpoint?: boolean;
  /** Fail after this step. */
  failAt?: number;
  /** End `warning` with this text. */
  warning?: string;
  /** Append one JSON line per run/resume and one at the end to this file (how tests count runs). */
  record?: string;
}

async function steps(ctx: TaskContext): Promise<TaskOutcome> {
  const input = (ctx.task.input ?? {}) as StepsInput;
  const total = input.steps ?? 5;
  const stepMs = input.stepMs ?? 100;
  const saved = ctx.task.checkpoint as { step?: number } | null;
  let step = ctx.resuming ? (saved?.step ?? 0) : 0;
  const record = (event: string) => {
    if (input.record) {
      appendFileSync(
        input.record,
        `${JSON.stringify({ task: ctx.task.id, seq: ctx.task.seq, event, step, pid: process.pid })}\n`,
      );
    }
  };
  record(ctx.resuming ? 'resume' : 'run');
  while (step < total) {
    await ctx.sleep(stepMs);
    step++;
    if (input.checkpoint !== false) await ctx.checkpoint({ step });
    ctx.progress(step / total, `step ${step} of ${total}`);
    if (input.failAt === step) throw new TaskError('TEST_FAILURE', `failed at step ${step} as asked`);
  }
  record('done');
  return { result: { steps: total }, ...(input.warning && { warning: input.warning }) };
}

export const TEST_TASK_KINDS: readonly TaskKind[] = [
  { kind: 'test.steps', run: steps, resume: steps },
  {
    kind: 'test.fail',
    async run(ctx) {
      await ctx.log('info', 'about to fail');
      throw new TaskError(
        'TEST_FAILURE',
        String((ctx.task.input as { message?: string })?.message ?? 'failed as asked'),
      );
    },
  },
];
