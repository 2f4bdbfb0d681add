import { type TaskContext, TaskError, type TaskKind } from '../jobs/types.js';
import type { SnapshotEnv } from '../snapshots/env.js';
import { applyRetention } from '../snapshots/instance-task.js';
import {
  REGION_FAILED_TASK,
  RETENTION_TASK,
  type RegionFailedInput,
  type RetentionTaskInput,
} from './planner.js';

/** An account × region the planner could not read: the task fails with AWS's error, its neighbours go on. */
export const regionFailedKind: TaskKind = {
  kind: REGION_FAILED_TASK,
  async run(ctx) {
    const input = ctx.task.input as RegionFailedInput;
    throw new TaskError(
      input.error.code,
      `instances of ${input.account} in ${input.region}: ${input.error.message}`,
    );
  },
};

/** Retention of a policy's instances that this run did not snapshot (deselected or gone). */
export function retentionKind(env: SnapshotEnv): TaskKind {
  const run = async (ctx: TaskContext) => {
    const input = ctx.task.input as RetentionTaskInput;
    let deleted = 0;
    let refused = 0;
    try {
      for (const [i, instance] of input.instances.entries()) {
        ctx.progress(i / input.instances.length, instance.instanceId);
        const r = await applyRetention(
          env,
          ctx,
          { policyId: input.policyId, instanceId: instance.instanceId, retention: input.retention },
          instance.gone,
        );
        deleted += r.deleted;
        refused += r.refused;
      }
    } finally {
      await env.calls.flush(ctx.session.id);
    }
    return {
      result: { instances: input.instances.length, deleted, refused },
      ...(refused > 0 && { warning: `${refused} snapshot(s) not deleted: their seals did not verify` }),
    };
  };
  return { kind: RETENTION_TASK, run, resume: run, canResume: () => true };
}
