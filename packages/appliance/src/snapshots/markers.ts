/**
 * The clear tags every snapshot Lifeboat makes carries from its creation (TagSpecifications), before its seal:
 * that it is ours, the session and task that made it, when a leftover of it may be cleaned up, and the token of
 * the request that made it (CreateSnapshots and CopySnapshot take no ClientToken: before any retry the task looks
 * its snapshots up by this tag). Alone they prove nothing: anyone can write them, so nothing is ever deleted
 * or listed on their strength; only the catalog's session record or the seal counts.
 */
import { SESSION_TAG, TASK_TAG } from '../jobs/types.js';

export { SESSION_TAG, TASK_TAG };
export const MARKER_TAG = 'lifeboat';
export const MARKER_VALUE = 'v1';
export const EXPIRES_TAG = 'lifeboat:expires';
export const TOKEN_TAG = 'lifeboat:token';

/** A marker-only leftover is looked at by the janitor after this long. */
export const LEFTOVER_AFTER_MS = 24 * 3_600_000;

export function markerTags(
  sessionId: string,
  taskId: string,
  token: string,
  now: Date,
): Record<string, string> {
  return {
    [MARKER_TAG]: MARKER_VALUE,
    [SESSION_TAG]: sessionId,
    [TASK_TAG]: taskId,
    [EXPIRES_TAG]: new Date(now.getTime() + LEFTOVER_AFTER_MS).toISOString(),
    [TOKEN_TAG]: token,
  };
}
