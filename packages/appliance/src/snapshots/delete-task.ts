import type { TaskContext, TaskKind } from '../jobs/types.js';
import { type DeleteItem, deleteVerified } from './delete.js';
import type { SnapshotEnv } from './env.js';

export const DELETE_TASK = 'snapshot.delete';

/** The snapshots of a removed policy in one account × region (`policy remove --delete-snapshots`). */
export interface DeleteTaskInput {
  policyId: string;
  accountId: string;
  region: string;
  snapshots: Array<{ pointId: string; snapshotId: string }>;
}

export function deleteTaskKind(env: SnapshotEnv): TaskKind {
  const run = async (ctx: TaskContext) => {
    const input = ctx.task.input as DeleteTaskInput;
    const items: DeleteItem[] = [];
    for (const s of input.snapshots) {
      const point = await env.catalog.points.get(s.pointId);
      const snapshot = await env.catalog.points.getSnapshot(s.snapshotId);
      if (point && snapshot && snapshot.state !== 'deleted') {
        items.push({ point, snapshot, reason: 'its policy was removed with --delete-snapshots' });
      }
    }
    try {
      const r = await deleteVerified(env, ctx, items, input.policyId);
      return {
        result: r,
        ...(r.refused > 0 && { warning: `${r.refused} snapshot(s) not deleted: their seals did not verify` }),
      };
    } finally {
      await env.calls.flush(ctx.session.id);
    }
  };
  return { kind: DELETE_TASK, run, resume: run, canResume: () => true };
}
