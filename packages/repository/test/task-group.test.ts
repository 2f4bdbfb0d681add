/**
 * TaskGroup: the concurrency of restore and check. A task that fails while the caller awaits another must be
 * kept and reported, never left as an unhandled rejection (Node ends the process on one: the bug of issue 14).
 */
import { describe, expect, it } from 'vitest';
import { TaskGroup } from '../src/util.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('TaskGroup', () => {
  it('keeps a later task’s failure while an earlier one runs; add and finish rethrow it; drain waits for all', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const group = new TaskGroup(3);
      const settled: string[] = [];
      await group.add(async () => {
        await sleep(40);
        settled.push('slow');
      });
      await group.add(async () => {
        await sleep(5);
        settled.push('fails');
        throw new Error('damaged');
      });
      await sleep(20); // the second task has failed; nobody awaits it
      expect(group.failed).toBe(true);
      await expect(group.add(async () => {})).rejects.toThrow('damaged');
      await group.drain();
      expect(settled).toEqual(['fails', 'slow']);
      await expect(group.finish()).rejects.toThrow('damaged');
      await sleep(10);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('holds at most `limit` tasks unsettled', async () => {
    const group = new TaskGroup(2);
    let running = 0;
    let most = 0;
    for (let i = 0; i < 8; i++) {
      await group.add(async () => {
        running++;
        most = Math.max(most, running);
        await sleep(3);
        running--;
      });
    }
    await group.finish();
    expect(most).toBe(2);
  });
});
