import { type Clock, TestClock } from '../clock.js';
import { ApplianceError } from '../errors.js';

export interface ClockAdvance {
  now: string;
  /** The sandbox's clock after the same move, when LIFEBOAT_SANDBOX_ADMIN names one. */
  sandbox?: { now: string };
}

/**
 * `POST /test/clock` (test mode only): moves the appliance's TestClock and, when LIFEBOAT_SANDBOX_ADMIN is set
 * (`http://127.0.0.1:PORT/_sandbox`, with LIFEBOAT_SANDBOX_TOKEN), the sandbox's clock by its admin API, so that
 * both see the same time.
 */
export async function advanceTestClock(
  clock: Clock,
  ms: number,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ClockAdvance> {
  if (!(clock instanceof TestClock)) {
    throw new ApplianceError('NOT_FOUND', 'the clock moves only in test mode (lifeboat server --test-mode)');
  }
  const admin = env.LIFEBOAT_SANDBOX_ADMIN;
  let sandbox: ClockAdvance['sandbox'];
  if (admin) {
    // The sandbox first: if it refuses, neither clock moved.
    const res = await fetch(`${admin.replace(/\/+$/, '')}/clock`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(env.LIFEBOAT_SANDBOX_TOKEN && { authorization: `Bearer ${env.LIFEBOAT_SANDBOX_TOKEN}` }),
      },
      body: JSON.stringify({ advanceMs: Math.round(ms) }),
    }).catch((err: Error) => {
      throw new ApplianceError('BUSY', `the sandbox's admin API at ${admin} is unreachable: ${err.message}`);
    });
    const text = await res.text();
    if (!res.ok) {
      throw new ApplianceError(
        'BUSY',
        `the sandbox refused to move its clock: ${res.status} ${text.slice(0, 200)}`,
      );
    }
    const now = (JSON.parse(text) as { now?: number }).now;
    sandbox = { now: new Date(Number(now)).toISOString() };
  }
  const now = clock.advance(ms).toISOString();
  return { now, ...(sandbox && { sandbox }) };
}
