/**
 * Issue 17, end to end: policy schedules driven by the appliance's test clock (and the sandbox's with it). Four
 * policies (daily 02:30 Europe/Berlin, weekly mon+thu 06:00 UTC, monthly 1st+last 23:30 America/New_York, cron
 * "15 *\/12 * * *") over one instance; a jump of months runs each once and records the runs it missed; then the
 * clock steps from one due run to the next across the spring DST change (02:30 does not exist in Berlin on
 * 2027-03-28: it runs at 03:00 CEST) and, for the Berlin policy alone, the autumn one (02:30 happens twice on
 * 2027-10-31: it runs once); every run is a session started by the appliance at exactly the expected instant.
 * A run due while the previous session still runs is skipped and recorded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stopAll } from './appliance-process.js';
import { PolicyWorld } from './policy-fixture.js';

let w: PolicyWorld;
let instance = '';

interface PolicyView {
  name: string;
  nextRunAt: string | null;
  lastSessionId: string | null;
}

const make = (name: string, schedule: Record<string, unknown>) => ({
  name,
  resources: { accounts: ['production'], regions: ['eu-west-1'], instances: [instance] },
  schedule,
  snapshots: { keep: 1 },
});

const POLICIES = {
  berlin: { daily: { times: ['02:30'] }, timezone: 'Europe/Berlin' },
  weekly: { weekly: { days: ['mon', 'thu'], times: ['06:00'] }, timezone: 'UTC' },
  monthly: { monthly: { days: [1, 'last'], times: ['23:30'] }, timezone: 'America/New_York' },
  cron: { cron: '15 */12 * * *', timezone: 'UTC' },
};

async function now(): Promise<number> {
  return Date.parse((await w.call<{ now: string }>('POST', '/test/clock', { advanceSeconds: 0 })).body.now);
}

async function policy(name: string): Promise<PolicyView> {
  return (await w.call<PolicyView>('GET', `/policies/${name}`)).body;
}

/** Waits until the policy's last session is not `before` and has ended; returns it. */
async function nextSession(name: string, before: string | null) {
  for (const stop = Date.now() + 30_000; Date.now() < stop; ) {
    const p = await policy(name);
    if (p.lastSessionId && p.lastSessionId !== before) return w.ended(p.lastSessionId);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`policy ${name} started no session`);
}

/** Steps the clock from due run to due run until `until`; returns the instants each policy ran at. */
async function stepUntil(names: string[], until: number): Promise<Record<string, string[]>> {
  const ran: Record<string, string[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (;;) {
    const views = await Promise.all(names.map(policy));
    const due = views
      .filter((v) => v.nextRunAt)
      .sort((a, b) => Date.parse(a.nextRunAt!) - Date.parse(b.nextRunAt!))[0]!;
    const at = Date.parse(due.nextRunAt!);
    if (at > until) return ran;
    const sameTime = views.filter((v) => v.nextRunAt === due.nextRunAt);
    await w.advance(Math.max(0, Math.ceil((at - (await now())) / 1000)) + 1);
    for (const v of sameTime) {
      const s = await nextSession(v.name, v.lastSessionId);
      expect(s.createdBy).toBeNull();
      expect(s.state).toBe('succeeded');
      ran[v.name]!.push(new Date(at).toISOString());
    }
  }
}

beforeAll(async () => {
  w = await PolicyWorld.start();
  const r = await w.call<{ items: Array<{ instanceId: string; name: string }> }>(
    'GET',
    '/instances?limit=100',
  );
  instance = r.body.items.find((i) => i.name === 'web-eu-1')!.instanceId;
  for (const [name, schedule] of Object.entries(POLICIES)) {
    const c = await w.call('POST', '/policies', make(name, schedule));
    expect(c.status, c.text).toBe(201);
  }
}, 180_000);

afterAll(async () => {
  await w?.stop();
  await stopAll();
});

describe('schedules under the test clock', () => {
  it('after a jump of months each policy runs once, and the runs it missed are recorded', async () => {
    const before = await Promise.all(Object.keys(POLICIES).map(policy));
    await w.advance(Math.ceil((Date.parse('2027-03-26T12:00:00Z') - (await now())) / 1000));
    for (const v of before) await nextSession(v.name, v.lastSessionId);
    const audit = await w.call<{
      items: Array<{ action: string; target: string; details: { runs: number } }>;
    }>('GET', '/audit?action=policy.run.missed&limit=50');
    const missed = Object.fromEntries(audit.body.items.map((e) => [e.target, e.details.runs]));
    // From 2026-12-07 to 2027-03-26: 109 days (the last one ran); 31 Mon/Thu; 7 month ends and starts; 2/day.
    expect(missed['policy/berlin']).toBeGreaterThanOrEqual(107);
    expect(missed['policy/weekly']).toBeGreaterThanOrEqual(29);
    expect(missed['policy/monthly']).toBeGreaterThanOrEqual(5);
    expect(missed['policy/cron']).toBeGreaterThanOrEqual(214);
  });

  it('steps run by run across the spring change: every run at its instant, the gap run at 03:00 CEST', async () => {
    const ran = await stepUntil(Object.keys(POLICIES), Date.parse('2027-04-01T12:00:00Z'));
    expect(ran.berlin).toEqual([
      '2027-03-27T01:30:00.000Z',
      '2027-03-28T01:00:00.000Z',
      '2027-03-29T00:30:00.000Z',
      '2027-03-30T00:30:00.000Z',
      '2027-03-31T00:30:00.000Z',
      '2027-04-01T00:30:00.000Z',
    ]);
    expect(ran.weekly).toEqual(['2027-03-29T06:00:00.000Z', '2027-04-01T06:00:00.000Z']);
    expect(ran.monthly).toEqual(['2027-04-01T03:30:00.000Z']);
    expect(ran.cron).toHaveLength(12);
    expect(ran.cron![0]).toBe('2027-03-26T12:15:00.000Z');
    expect(ran.cron!.at(-1)).toBe('2027-04-01T00:15:00.000Z');
  });

  it('across the autumn change the repeated 02:30 runs once, at its first occurrence', async () => {
    for (const name of ['weekly', 'monthly', 'cron']) {
      expect((await w.call('POST', `/policies/${name}/disable`)).status).toBe(200);
    }
    const b = await policy('berlin');
    await w.advance(Math.ceil((Date.parse('2027-10-30T12:00:00Z') - (await now())) / 1000));
    await nextSession('berlin', b.lastSessionId);
    const ran = await stepUntil(['berlin'], Date.parse('2027-11-01T12:00:00Z'));
    expect(ran.berlin).toEqual(['2027-10-31T00:30:00.000Z', '2027-11-01T01:30:00.000Z']);
  });

  it('a run due while the previous session still runs is skipped and recorded', async () => {
    expect((await w.call('POST', '/policies/cron/enable')).status).toBe(200);
    w.sandbox.addFault({
      service: 'ec2',
      operation: 'CreateSnapshots',
      kind: 'latency',
      latencyMs: 4000,
      count: 1,
    });
    try {
      const started = await w.call<{ id: string }>('POST', '/policies/cron/run');
      expect(started.status, started.text).toBe(202);
      const p = await policy('cron');
      await w.advance(Math.ceil((Date.parse(p.nextRunAt!) - (await now())) / 1000) + 1);
      let skipped: Array<{ details: { runningSession: string } }> = [];
      for (const stop = Date.now() + 10_000; Date.now() < stop && skipped.length === 0; ) {
        skipped = (await w.call<{ items: typeof skipped }>('GET', '/audit?action=policy.run.skipped&limit=5'))
          .body.items;
        if (skipped.length === 0) await new Promise((r) => setTimeout(r, 100));
      }
      expect(skipped[0]?.details.runningSession).toBe(started.body.id);
      expect((await w.ended(started.body.id)).state).toBe('succeeded');
      expect((await policy('cron')).lastSessionId).toBe(started.body.id);
    } finally {
      w.sandbox.clearFaults();
    }
  });
});
