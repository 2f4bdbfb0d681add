import { describe, expect, it } from 'vitest';
import {
  describeSchedule,
  HORIZON_DAYS,
  intervalAt,
  nextRun,
  parseCron,
  previousRun,
  type Schedule,
  scheduleErrors,
} from '../src/policies/schedule.js';

const t = (iso: string): number => {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new Error(`bad test instant ${iso}`);
  return ms;
};
const iso = (ms: number | undefined): string => (ms === undefined ? 'undefined' : new Date(ms).toISOString());

/** The next `count` runs strictly after `after`, as ISO strings. */
function runs(s: Schedule, after: string, count: number, zone?: string): string[] {
  const out: string[] = [];
  let at = t(after);
  for (let i = 0; i < count; i++) {
    at = nextRun(s, at, zone);
    out.push(iso(at));
  }
  return out;
}

/** The `count` latest runs at or before `atOrBefore`, latest first. */
function runsBack(s: Schedule, atOrBefore: string, count: number): string[] {
  const out: string[] = [];
  let at = t(atOrBefore);
  for (let i = 0; i < count; i++) {
    const run = previousRun(s, at);
    out.push(iso(run));
    if (run === undefined) break;
    at = run - 1;
  }
  return out;
}

describe('daily', () => {
  const s: Schedule = { daily: { times: ['14:30', '02:00'] } };

  it('runs at each time, strictly after the given instant, in UTC by default', () => {
    expect(runs(s, '2026-01-10T03:00:00Z', 3)).toEqual([
      '2026-01-10T14:30:00.000Z',
      '2026-01-11T02:00:00.000Z',
      '2026-01-11T14:30:00.000Z',
    ]);
    expect(iso(nextRun(s, t('2026-01-10T14:30:00Z')))).toBe('2026-01-11T02:00:00.000Z');
    expect(iso(nextRun(s, t('2026-01-10T14:29:59.999Z')))).toBe('2026-01-10T14:30:00.000Z');
  });

  it("uses the schedule's time zone, else the caller's default", () => {
    const berlin: Schedule = { daily: { times: ['02:00'] }, timezone: 'Europe/Berlin' };
    expect(iso(nextRun(berlin, t('2026-01-10T12:00:00Z')))).toBe('2026-01-11T01:00:00.000Z');
    expect(iso(nextRun(berlin, t('2026-07-10T12:00:00Z')))).toBe('2026-07-11T00:00:00.000Z');
    const plain: Schedule = { daily: { times: ['02:00'] } };
    expect(iso(nextRun(plain, t('2026-01-10T12:00:00Z'), 'America/New_York'))).toBe(
      '2026-01-11T07:00:00.000Z',
    );
    expect(iso(nextRun(berlin, t('2026-01-10T12:00:00Z'), 'America/New_York'))).toBe(
      '2026-01-11T01:00:00.000Z',
    );
    expect(() => nextRun(plain, 0, 'Mars/Base')).toThrow(RangeError);
  });
});

describe('weekly', () => {
  it('runs on the given days of the week (2026-01-10 is a Saturday)', () => {
    const s: Schedule = { weekly: { days: ['thu', 'mon'], times: ['02:00'] } };
    expect(runs(s, '2026-01-10T00:00:00Z', 4)).toEqual([
      '2026-01-12T02:00:00.000Z',
      '2026-01-15T02:00:00.000Z',
      '2026-01-19T02:00:00.000Z',
      '2026-01-22T02:00:00.000Z',
    ]);
    expect(runs({ weekly: { days: ['sun'], times: ['23:59'] } }, '2026-01-10T00:00:00Z', 1)).toEqual([
      '2026-01-11T23:59:00.000Z',
    ]);
  });

  it('picks the day of the week in the schedule zone, not in UTC', () => {
    // Monday 00:30 in Tokyo is Sunday 15:30Z.
    const s: Schedule = { weekly: { days: ['mon'], times: ['00:30'] }, timezone: 'Asia/Tokyo' };
    expect(iso(nextRun(s, t('2026-01-10T00:00:00Z')))).toBe('2026-01-11T15:30:00.000Z');
  });
});

describe('monthly', () => {
  it('skips months too short for the day: 31 does not run in April, 30 not in February', () => {
    expect(runs({ monthly: { days: [31], times: ['00:00'] } }, '2026-03-31T00:00:00Z', 3)).toEqual([
      '2026-05-31T00:00:00.000Z',
      '2026-07-31T00:00:00.000Z',
      '2026-08-31T00:00:00.000Z',
    ]);
    expect(runs({ monthly: { days: [30], times: ['00:00'] } }, '2026-01-30T00:00:00Z', 2)).toEqual([
      '2026-03-30T00:00:00.000Z',
      '2026-04-30T00:00:00.000Z',
    ]);
  });

  it('runs "last" on the last day: February in leap and other years, 30-day months', () => {
    const s: Schedule = { monthly: { days: ['last'], times: ['06:00'] } };
    expect(runs(s, '2026-01-31T06:00:00Z', 3)).toEqual([
      '2026-02-28T06:00:00.000Z',
      '2026-03-31T06:00:00.000Z',
      '2026-04-30T06:00:00.000Z',
    ]);
    expect(runs(s, '2028-02-01T00:00:00Z', 1)).toEqual(['2028-02-29T06:00:00.000Z']);
    expect(runs(s, '2100-02-01T00:00:00Z', 1)).toEqual(['2100-02-28T06:00:00.000Z']);
    expect(runs(s, '2000-02-01T00:00:00Z', 1)).toEqual(['2000-02-29T06:00:00.000Z']);
  });

  it('runs once on a day that is both a listed day and the last', () => {
    const s: Schedule = { monthly: { days: [1, 15, 31, 'last'], times: ['00:00'] } };
    expect(runs(s, '2026-01-20T00:00:00Z', 5)).toEqual([
      '2026-01-31T00:00:00.000Z',
      '2026-02-01T00:00:00.000Z',
      '2026-02-15T00:00:00.000Z',
      '2026-02-28T00:00:00.000Z',
      '2026-03-01T00:00:00.000Z',
    ]);
  });
});

describe('yearly', () => {
  it('runs on the dates, each year', () => {
    const s: Schedule = {
      yearly: { dates: ['07-01', '01-01'], times: ['00:00'] },
      timezone: 'Europe/Berlin',
    };
    expect(runs(s, '2026-01-01T00:00:00Z', 3)).toEqual([
      '2026-06-30T22:00:00.000Z',
      '2026-12-31T23:00:00.000Z',
      '2027-06-30T22:00:00.000Z',
    ]);
  });

  it('runs 02-29 only in leap years, finding the next one even 8 years away', () => {
    const s: Schedule = { yearly: { dates: ['02-29'], times: ['12:00'] } };
    expect(runs(s, '2026-01-01T00:00:00Z', 2)).toEqual([
      '2028-02-29T12:00:00.000Z',
      '2032-02-29T12:00:00.000Z',
    ]);
    // 2100 is not a leap year: from 2096-03-01 the next 29 February is in 2104.
    expect(iso(nextRun(s, t('2096-03-01T00:00:00Z')))).toBe('2104-02-29T12:00:00.000Z');
    expect(iso(previousRun(s, t('2104-02-29T11:59:59Z')))).toBe('2096-02-29T12:00:00.000Z');
    expect(HORIZON_DAYS).toBeGreaterThan(
      t('2104-02-29T00:00:00Z') / 86_400_000 - t('2096-02-29T00:00:00Z') / 86_400_000,
    );
  });
});

describe('cron', () => {
  it('parses steps, ranges, lists and names; 0 and 7 are Sunday', () => {
    expect(parseCron('*/15 9-17/4 1,15 jan-MAR,dec 5-7')).toEqual({
      minute: [0, 15, 30, 45],
      hour: [9, 13, 17],
      dayOfMonth: [1, 15],
      month: [1, 2, 3, 12],
      dayOfWeek: [0, 5, 6],
      dayOfMonthRestricted: true,
      dayOfWeekRestricted: true,
    });
    expect(parseCron('5/20 0 * * sun')).toMatchObject({
      minute: [5, 25, 45],
      dayOfWeek: [0],
      dayOfMonthRestricted: false,
    });
    expect(parseCron('0 0 * * 7')).toMatchObject({ dayOfWeek: [0] });
    expect(parseCron('0 0 * * *')).toMatchObject({
      dayOfWeek: [0, 1, 2, 3, 4, 5, 6],
      dayOfWeekRestricted: false,
    });
  });

  it('runs steps within ranges on weekdays', () => {
    // 2026-01-09 is a Friday.
    const s: Schedule = { cron: '*/15 9-17 * * mon-fri' };
    expect(runs(s, '2026-01-09T17:30:00Z', 3)).toEqual([
      '2026-01-09T17:45:00.000Z',
      '2026-01-12T09:00:00.000Z',
      '2026-01-12T09:15:00.000Z',
    ]);
    expect(runs({ cron: '0-30/10 8 * * *' }, '2026-01-09T08:05:00Z', 4)).toEqual([
      '2026-01-09T08:10:00.000Z',
      '2026-01-09T08:20:00.000Z',
      '2026-01-09T08:30:00.000Z',
      '2026-01-10T08:00:00.000Z',
    ]);
  });

  it('treats 7, 0 and sun alike', () => {
    for (const dow of ['7', '0', 'sun', 'SUN']) {
      expect(iso(nextRun({ cron: `0 12 * * ${dow}` }, t('2026-01-10T00:00:00Z')))).toBe(
        '2026-01-11T12:00:00.000Z',
      );
    }
  });

  it('uses names for months', () => {
    expect(runs({ cron: '0 6 1 jan,JUL *' }, '2026-01-02T00:00:00Z', 2)).toEqual([
      '2026-07-01T06:00:00.000Z',
      '2027-01-01T06:00:00.000Z',
    ]);
  });

  it('runs when either day field matches if both are restricted (Vixie)', () => {
    // Every 1st of the month and every Monday; 2026-02-01 is a Sunday.
    expect(runs({ cron: '0 0 1 * mon' }, '2026-01-25T00:00:00Z', 4)).toEqual([
      '2026-01-26T00:00:00.000Z',
      '2026-02-01T00:00:00.000Z',
      '2026-02-02T00:00:00.000Z',
      '2026-02-09T00:00:00.000Z',
    ]);
  });

  it('needs both day fields when one begins with * (Vixie)', () => {
    // Odd days of the month that are Mondays: 5 and 19 January 2026 (12 and 26 are even).
    expect(runs({ cron: '0 0 */2 * mon' }, '2026-01-01T00:00:00Z', 3)).toEqual([
      '2026-01-05T00:00:00.000Z',
      '2026-01-19T00:00:00.000Z',
      '2026-02-09T00:00:00.000Z',
    ]);
  });

  it("is evaluated in the schedule's time zone", () => {
    expect(iso(nextRun({ cron: '0 2 * * *', timezone: 'America/New_York' }, t('2026-01-10T00:00:00Z')))).toBe(
      '2026-01-10T07:00:00.000Z',
    );
  });

  it('returns Infinity promptly when it never runs, and refuses it in validation', () => {
    const never: Schedule = { cron: '0 0 30 2 *' };
    const started = performance.now();
    expect(nextRun(never, t('2026-01-01T00:00:00Z'))).toBe(Infinity);
    expect(previousRun(never, t('2026-01-01T00:00:00Z'))).toBeUndefined();
    expect(intervalAt(never, t('2026-01-01T00:00:00Z'))).toBe(Infinity);
    expect(performance.now() - started).toBeLessThan(200);
    expect(scheduleErrors(never)).toEqual([
      'schedule.cron: "0 0 30 2 *" never runs (no day matches its day-of-month, month and day-of-week)',
    ]);
    expect(scheduleErrors({ cron: '0 0 31 4,6,9,11 *' })).toHaveLength(1);
    // 1 February (or the 29th, in leap years) on a Saturday: 2087, 2098, then 2110 (2100 is no leap year).
    expect(scheduleErrors({ cron: '0 0 */28 feb sat' })).toEqual([
      'schedule.cron: "0 0 */28 feb sat" runs too rarely (up to 12 years between runs; at most 8 allowed)',
    ]);
    expect(scheduleErrors({ cron: '0 0 29 2 *' })).toEqual([]);
  });
});

describe('DST in Europe/Berlin (2026-03-29 02:00 → 03:00, 2026-10-25 03:00 → 02:00)', () => {
  const daily = (time: string): Schedule => ({ daily: { times: [time] }, timezone: 'Europe/Berlin' });

  it('runs a time in the spring gap at the first instant after it; times around it are unaffected', () => {
    expect(runs(daily('02:30'), '2026-03-28T12:00:00Z', 2)).toEqual([
      '2026-03-29T01:00:00.000Z',
      '2026-03-30T00:30:00.000Z',
    ]);
    expect(runs(daily('01:30'), '2026-03-28T12:00:00Z', 2)).toEqual([
      '2026-03-29T00:30:00.000Z',
      '2026-03-29T23:30:00.000Z',
    ]);
    expect(runs(daily('03:30'), '2026-03-28T12:00:00Z', 2)).toEqual([
      '2026-03-29T01:30:00.000Z',
      '2026-03-30T01:30:00.000Z',
    ]);
    expect(iso(previousRun(daily('02:30'), t('2026-03-29T01:00:00Z')))).toBe('2026-03-29T01:00:00.000Z');
    expect(iso(previousRun(daily('02:30'), t('2026-03-29T00:59:59Z')))).toBe('2026-03-28T01:30:00.000Z');
  });

  it('runs local times that map to the same instant once', () => {
    const s: Schedule = { daily: { times: ['02:00', '02:30', '03:00'] }, timezone: 'Europe/Berlin' };
    expect(runs(s, '2026-03-28T12:00:00Z', 3)).toEqual([
      '2026-03-29T01:00:00.000Z',
      '2026-03-30T00:00:00.000Z',
      '2026-03-30T00:30:00.000Z',
    ]);
  });

  it('runs a time that occurs twice in autumn once, at its first occurrence', () => {
    expect(runs(daily('02:30'), '2026-10-24T12:00:00Z', 2)).toEqual([
      '2026-10-25T00:30:00.000Z',
      '2026-10-26T01:30:00.000Z',
    ]);
    // Between the two occurrences, and at the second one: the next run is the next day.
    expect(iso(nextRun(daily('02:30'), t('2026-10-25T01:00:00Z')))).toBe('2026-10-26T01:30:00.000Z');
    expect(iso(nextRun(daily('02:30'), t('2026-10-25T01:30:00Z')))).toBe('2026-10-26T01:30:00.000Z');
    expect(iso(previousRun(daily('02:30'), t('2026-10-25T01:45:00Z')))).toBe('2026-10-25T00:30:00.000Z');
    expect(runs(daily('01:30'), '2026-10-24T12:00:00Z', 1)).toEqual(['2026-10-24T23:30:00.000Z']);
    expect(runs(daily('03:30'), '2026-10-24T12:00:00Z', 1)).toEqual(['2026-10-25T02:30:00.000Z']);
  });

  it('runs hourly cron without a duplicate in autumn and without losing a run in spring', () => {
    const hourly: Schedule = { cron: '0 * * * *', timezone: 'Europe/Berlin' };
    // Spring: local 02:00 does not exist and runs at 03:00 CEST = 01:00Z, the same instant as local 03:00.
    expect(runs(hourly, '2026-03-28T22:30:00Z', 5)).toEqual([
      '2026-03-28T23:00:00.000Z',
      '2026-03-29T00:00:00.000Z',
      '2026-03-29T01:00:00.000Z',
      '2026-03-29T02:00:00.000Z',
      '2026-03-29T03:00:00.000Z',
    ]);
    // Autumn: local 02:00 runs at its first occurrence (00:00Z), not again at 01:00Z.
    expect(runs(hourly, '2026-10-24T21:30:00Z', 5)).toEqual([
      '2026-10-24T22:00:00.000Z',
      '2026-10-24T23:00:00.000Z',
      '2026-10-25T00:00:00.000Z',
      '2026-10-25T02:00:00.000Z',
      '2026-10-25T03:00:00.000Z',
    ]);
    expect(runsBack(hourly, '2026-10-25T02:30:00Z', 4)).toEqual([
      '2026-10-25T02:00:00.000Z',
      '2026-10-25T00:00:00.000Z',
      '2026-10-24T23:00:00.000Z',
      '2026-10-24T22:00:00.000Z',
    ]);
    expect(intervalAt(hourly, t('2026-10-25T01:30:00Z'))).toBe(2 * 3_600_000);
    expect(runsBack(hourly, '2026-03-29T02:30:00Z', 4)).toEqual([
      '2026-03-29T02:00:00.000Z',
      '2026-03-29T01:00:00.000Z',
      '2026-03-29T00:00:00.000Z',
      '2026-03-28T23:00:00.000Z',
    ]);
  });

  it('runs a half-hourly cron through the spring gap', () => {
    expect(runs({ cron: '30 * * * *', timezone: 'Europe/Berlin' }, '2026-03-29T00:00:00Z', 3)).toEqual([
      '2026-03-29T00:30:00.000Z',
      '2026-03-29T01:00:00.000Z',
      '2026-03-29T01:30:00.000Z',
    ]);
  });
});

describe('DST in America/New_York (2026-03-08 02:00 → 03:00, 2026-11-01 02:00 → 01:00)', () => {
  it('runs 02:30 on the spring day at 03:00 EDT', () => {
    const s: Schedule = { daily: { times: ['02:30'] }, timezone: 'America/New_York' };
    expect(runs(s, '2026-03-07T12:00:00Z', 3)).toEqual([
      '2026-03-08T07:00:00.000Z',
      '2026-03-09T06:30:00.000Z',
      '2026-03-10T06:30:00.000Z',
    ]);
  });

  it('runs 01:30 on the autumn day once, in EDT', () => {
    const s: Schedule = { daily: { times: ['01:30'] }, timezone: 'America/New_York' };
    expect(runs(s, '2026-10-31T12:00:00Z', 2)).toEqual([
      '2026-11-01T05:30:00.000Z',
      '2026-11-02T06:30:00.000Z',
    ]);
    expect(iso(previousRun(s, t('2026-11-01T06:30:00Z')))).toBe('2026-11-01T05:30:00.000Z');
  });
});

describe('a 30-minute DST: Australia/Lord_Howe (+10:30 ↔ +11)', () => {
  it('runs a time in the half-hour gap (2026-10-04 02:00 → 02:30) at its end', () => {
    const s: Schedule = { daily: { times: ['02:15'] }, timezone: 'Australia/Lord_Howe' };
    expect(runs(s, '2026-10-03T00:00:00Z', 2)).toEqual([
      '2026-10-03T15:30:00.000Z',
      '2026-10-04T15:15:00.000Z',
    ]);
  });

  it('runs a time of the repeated half hour (2026-04-05 02:00 → 01:30) once, first', () => {
    const s: Schedule = { daily: { times: ['01:45'] }, timezone: 'Australia/Lord_Howe' };
    expect(runs(s, '2026-04-04T00:00:00Z', 2)).toEqual([
      '2026-04-04T14:45:00.000Z',
      '2026-04-05T15:15:00.000Z',
    ]);
  });
});

/**
 * A minute-by-minute reference of the rule: a local time L runs at the first instant whose local time is >= L.
 * Returns the run instants in (from, to].
 */
function referenceRuns(zone: string, matches: (local: Date) => boolean, from: number, to: number): number[] {
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
  });
  const localOf = (instant: number): number => {
    const n = format.format(instant).match(/\d+/g)!.map(Number);
    return Date.UTC(n[2]!, n[0]! - 1, n[1]!, n[3]!, n[4]!);
  };
  const out: number[] = [];
  let reached = localOf(from);
  for (let instant = from + 60_000; instant <= to; instant += 60_000) {
    const local = localOf(instant);
    let runs = false;
    for (let l = reached + 60_000; l <= local; l += 60_000) if (matches(new Date(l))) runs = true;
    if (runs) out.push(instant);
    reached = Math.max(reached, local);
  }
  return out;
}

describe('against a minute-by-minute reference around offset changes', () => {
  const cases: { zone: string; around: string; schedule: Schedule; matches: (l: Date) => boolean }[] = [];
  for (const [zone, around] of [
    ['Europe/Berlin', '2026-03-29T01:00:00Z'],
    ['Europe/Berlin', '2026-10-25T01:00:00Z'],
    ['America/New_York', '2026-03-08T07:00:00Z'],
    ['America/New_York', '2026-11-01T06:00:00Z'],
    ['Australia/Lord_Howe', '2026-10-03T15:30:00Z'],
    ['Australia/Lord_Howe', '2026-04-04T15:00:00Z'],
    ['America/Santiago', '2026-04-05T03:00:00Z'],
    ['America/Santiago', '2026-09-06T04:00:00Z'],
  ] as const) {
    cases.push({
      zone,
      around,
      schedule: { cron: '*/20 * * * *', timezone: zone },
      matches: (l) => l.getUTCMinutes() % 20 === 0,
    });
    cases.push({
      zone,
      around,
      schedule: {
        daily: { times: ['00:00', '00:30', '01:15', '01:45', '02:00', '02:30', '03:00', '23:30'] },
        timezone: zone,
      },
      matches: (l) =>
        ['00:00', '00:30', '01:15', '01:45', '02:00', '02:30', '03:00', '23:30'].includes(
          l.toISOString().slice(11, 16),
        ),
    });
  }

  it.each(cases)('$zone around $around: $schedule', ({ zone, around, schedule, matches }) => {
    const from = t(around) - 30 * 3_600_000;
    const to = t(around) + 30 * 3_600_000;
    const expected = referenceRuns(zone, matches, from, to).map(iso);
    const actual: string[] = [];
    for (let at = nextRun(schedule, from); at <= to; at = nextRun(schedule, at)) actual.push(iso(at));
    expect(actual).toEqual(expected);
    const back: string[] = [];
    for (
      let at = previousRun(schedule, to);
      at !== undefined && at > from;
      at = previousRun(schedule, at - 1)
    ) {
      back.push(iso(at));
    }
    expect(back.reverse()).toEqual(expected);
  });
});

describe('previousRun and intervalAt', () => {
  const schedules: Schedule[] = [
    { daily: { times: ['02:30'] }, timezone: 'Europe/Berlin' },
    { weekly: { days: ['mon', 'thu'], times: ['01:30', '23:00'] }, timezone: 'America/New_York' },
    { monthly: { days: [31, 'last'], times: ['02:00'] }, timezone: 'Europe/Berlin' },
    { yearly: { dates: ['02-29', '10-25'], times: ['02:30'] }, timezone: 'Europe/Berlin' },
    { cron: '0 * * * *', timezone: 'Europe/Berlin' },
    { cron: '15 2 1 * fri', timezone: 'Australia/Lord_Howe' },
  ];

  it('agree with nextRun at many instants', () => {
    let seed = 42;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (const s of schedules) {
      for (let i = 0; i < 200; i++) {
        const at = Math.floor(t('2025-01-01T00:00:00Z') + random() * 4 * 365 * 86_400_000);
        const previous = previousRun(s, at)!;
        const next = nextRun(s, previous);
        expect(previous).toBeLessThanOrEqual(at);
        expect(next).toBeGreaterThan(at);
        expect(nextRun(s, at)).toBe(next);
        expect(previousRun(s, next)).toBe(next);
        expect(previousRun(s, next - 1)).toBe(previous);
        expect(intervalAt(s, at)).toBe(next - previous);
      }
    }
  });

  it('includes the instant itself', () => {
    const s: Schedule = { daily: { times: ['02:00'] } };
    expect(iso(previousRun(s, t('2026-01-10T02:00:00Z')))).toBe('2026-01-10T02:00:00.000Z');
    expect(iso(previousRun(s, t('2026-01-10T01:59:59.999Z')))).toBe('2026-01-09T02:00:00.000Z');
  });

  it('measures the interval containing the instant, DST changes included', () => {
    const s: Schedule = { daily: { times: ['02:30'] }, timezone: 'Europe/Berlin' };
    const hour = 3_600_000;
    expect(intervalAt(s, t('2026-01-10T12:00:00Z'))).toBe(24 * hour);
    // 2026-03-28 02:30 CET (01:30Z) → 2026-03-29 03:00 CEST (01:00Z) → 2026-03-30 02:30 CEST (00:30Z).
    expect(intervalAt(s, t('2026-03-28T12:00:00Z'))).toBe(23.5 * hour);
    expect(intervalAt(s, t('2026-03-29T12:00:00Z'))).toBe(23.5 * hour);
    expect(intervalAt(s, t('2026-10-25T12:00:00Z'))).toBe(25 * hour);
    const weekly: Schedule = { weekly: { days: ['mon', 'thu'], times: ['02:00'] } };
    expect(intervalAt(weekly, t('2026-01-13T00:00:00Z'))).toBe(3 * 24 * hour);
    expect(intervalAt(weekly, t('2026-01-16T00:00:00Z'))).toBe(4 * 24 * hour);
  });

  it('refuses instants that are not finite and invalid schedules', () => {
    const s: Schedule = { daily: { times: ['02:00'] } };
    expect(() => nextRun(s, Number.NaN)).toThrow(RangeError);
    expect(() => previousRun(s, Infinity)).toThrow(RangeError);
    expect(() => nextRun({ daily: { times: ['25:00'] } }, 0)).toThrow(
      'invalid schedule: schedule.daily.times[0]: "25:00" is not a time of day (HH:MM, 00:00-23:59)',
    );
  });
});

describe('scheduleErrors', () => {
  it('accepts valid schedules', () => {
    const valid: unknown[] = [
      { daily: { times: ['00:00', '23:59'] } },
      { daily: { times: ['02:00'] }, timezone: 'Europe/Berlin' },
      {
        weekly: { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], times: ['12:00'] },
        timezone: 'UTC',
      },
      { monthly: { days: [1, 15, 31, 'last'], times: ['02:00'] } },
      { yearly: { dates: ['01-01', '02-29', '12-31'], times: ['02:00'] } },
      { cron: '0 2 * * *' },
      { cron: ' */5  9-17/2 1,15 JAN-jun mon-fri ' },
    ];
    for (const value of valid) expect(scheduleErrors(value)).toEqual([]);
  });

  it('refuses times that are not HH:MM', () => {
    expect(scheduleErrors({ daily: { times: ['02:00', '25:00'] } })).toEqual([
      'schedule.daily.times[1]: "25:00" is not a time of day (HH:MM, 00:00-23:59)',
    ]);
    expect(scheduleErrors({ daily: { times: ['2:00', '02:60', 120] } })).toEqual([
      'schedule.daily.times[0]: "2:00" is not a time of day (HH:MM, 00:00-23:59)',
      'schedule.daily.times[1]: "02:60" is not a time of day (HH:MM, 00:00-23:59)',
      'schedule.daily.times[2]: 120 is not a time of day (HH:MM, 00:00-23:59; write it as a quoted string)',
    ]);
  });

  it('refuses missing, non-list and empty lists, and duplicates', () => {
    expect(scheduleErrors({ daily: { times: [] } })).toEqual([
      'schedule.daily.times: empty; give at least one time of day (HH:MM)',
    ]);
    expect(scheduleErrors({ daily: {} })).toEqual([
      'schedule.daily.times: missing; expected a list of times of day (HH:MM)',
    ]);
    expect(scheduleErrors({ daily: { times: '02:00' } })).toEqual([
      'schedule.daily.times: expected a list of times of day (HH:MM), got "02:00"',
    ]);
    expect(scheduleErrors({ daily: { times: ['02:00', '03:00', '02:00'] } })).toEqual([
      'schedule.daily.times[2]: "02:00" repeats times[0]',
    ]);
    expect(scheduleErrors({ weekly: { days: ['mon', 'mon'], times: [] } })).toEqual([
      'schedule.weekly.times: empty; give at least one time of day (HH:MM)',
      'schedule.weekly.days[1]: "mon" repeats days[0]',
    ]);
    expect(scheduleErrors({ monthly: { days: [], times: ['02:00'] } })).toEqual([
      'schedule.monthly.days: empty; give at least one day of the month (1-31 or last)',
    ]);
    expect(scheduleErrors({ yearly: { dates: ['01-01', '01-01'], times: ['02:00'] } })).toEqual([
      'schedule.yearly.dates[1]: "01-01" repeats dates[0]',
    ]);
  });

  it('refuses unknown keys anywhere', () => {
    expect(scheduleErrors({ daily: { times: ['02:00'] }, hourly: {} })).toEqual([
      'schedule: unknown key "hourly" (allowed: daily, weekly, monthly, yearly, cron, timezone)',
    ]);
    expect(scheduleErrors({ daily: { times: ['02:00'], at: '02:00' } })).toEqual([
      'schedule.daily: unknown key "at" (allowed: times)',
    ]);
    expect(scheduleErrors({ weekly: { days: ['mon'], times: ['02:00'], day: 'mon' } })).toEqual([
      'schedule.weekly: unknown key "day" (allowed: days, times)',
    ]);
  });

  it('needs exactly one kind, as an object', () => {
    expect(scheduleErrors({ timezone: 'UTC' })).toEqual([
      'schedule: has none; needs exactly one of daily, weekly, monthly, yearly, cron',
    ]);
    expect(scheduleErrors({ daily: { times: ['02:00'] }, cron: '0 2 * * *' })).toEqual([
      'schedule: has daily and cron; needs exactly one of daily, weekly, monthly, yearly, cron',
    ]);
    expect(scheduleErrors('daily')).toEqual([
      'schedule: expected an object with one of daily, weekly, monthly, yearly, cron (and optionally timezone), got "daily"',
    ]);
    expect(scheduleErrors(null, 'policies[2].schedule')).toEqual([
      'policies[2].schedule: expected an object with one of daily, weekly, monthly, yearly, cron (and optionally timezone), got null',
    ]);
    expect(scheduleErrors({ daily: ['02:00'] })).toEqual([
      'schedule.daily: expected an object with times, got ["02:00"]',
    ]);
  });

  it('refuses time zones that are not IANA names', () => {
    expect(scheduleErrors({ daily: { times: ['02:00'] }, timezone: 'Mars/Base' })).toEqual([
      'schedule.timezone: "Mars/Base" is not an IANA time zone',
    ]);
    expect(scheduleErrors({ daily: { times: ['02:00'] }, timezone: '+01:00' })).toEqual([
      'schedule.timezone: "+01:00" is not an IANA time zone',
    ]);
    expect(scheduleErrors({ daily: { times: ['02:00'] }, timezone: 1 })).toEqual([
      'schedule.timezone: expected an IANA time zone name (e.g. Europe/Berlin), got 1',
    ]);
  });

  it('refuses bad days of the week, days of the month and dates', () => {
    expect(scheduleErrors({ weekly: { days: ['monday', 1], times: ['02:00'] } })).toEqual([
      'schedule.weekly.days[0]: "monday" is not a day of the week (mon, tue, wed, thu, fri, sat, sun)',
      'schedule.weekly.days[1]: 1 is not a day of the week (mon, tue, wed, thu, fri, sat, sun)',
    ]);
    expect(scheduleErrors({ monthly: { days: [0, 32, 1.5, 'first', '1'], times: ['02:00'] } })).toEqual([
      'schedule.monthly.days[0]: 0 is not a day of the month (1-31 or "last")',
      'schedule.monthly.days[1]: 32 is not a day of the month (1-31 or "last")',
      'schedule.monthly.days[2]: 1.5 is not a day of the month (1-31 or "last")',
      'schedule.monthly.days[3]: "first" is not a day of the month (1-31 or "last")',
      'schedule.monthly.days[4]: "1" is not a day of the month (1-31 or "last")',
    ]);
    const date = (d: string, i: number): string =>
      `schedule.yearly.dates[${i}]: "${d}" is not a date of the year (MM-DD, 01-01 to 12-31; 02-29 runs in leap years)`;
    expect(
      scheduleErrors({ yearly: { dates: ['02-30', '04-31', '13-01', '1-01', '00-10'], times: ['02:00'] } }),
    ).toEqual(['02-30', '04-31', '13-01', '1-01', '00-10'].map(date));
  });

  it('refuses bad cron expressions, naming the field', () => {
    expect(scheduleErrors({ cron: '0 2 * *' })).toEqual([
      'schedule.cron: "0 2 * *" has 4 fields; expected 5 (minute hour day-of-month month day-of-week)',
    ]);
    expect(scheduleErrors({ cron: '@daily' })).toEqual([
      'schedule.cron: "@daily" has 1 field; expected 5 (minute hour day-of-month month day-of-week)',
    ]);
    expect(scheduleErrors({ cron: 61 })).toEqual([
      'schedule.cron: expected a cron expression (minute hour day-of-month month day-of-week), got 61',
    ]);
    expect(scheduleErrors({ cron: '61 */0 0 13 funday' })).toEqual([
      'schedule.cron: minute field "61": 61 is out of range (0-59)',
      'schedule.cron: hour field "*/0": step "0" is not a positive whole number',
      'schedule.cron: day-of-month field "0": 0 is out of range (1-31)',
      'schedule.cron: month field "13": 13 is out of range (1-12 or jan-dec)',
      'schedule.cron: day-of-week field "funday": "funday" is not a number or name (0-7 or sun-sat; 0 and 7 are Sunday)',
    ]);
    expect(scheduleErrors({ cron: '5-1 1,,2 1-2-3 * fri-sun' })).toEqual([
      'schedule.cron: minute field "5-1": range "5-1" runs backwards',
      'schedule.cron: hour field "1,,2": empty list item (0-23)',
      'schedule.cron: day-of-month field "1-2-3": "1-2-3" is not a range (a-b)',
      'schedule.cron: day-of-week field "fri-sun": range "fri-sun" runs backwards',
    ]);
    expect(scheduleErrors({ cron: '0 jan ? * *' })).toEqual([
      'schedule.cron: hour field "jan": "jan" is not a number (0-23)',
      'schedule.cron: day-of-month field "?": "?" is not a number (1-31)',
    ]);
    expect(scheduleErrors({ cron: '0/5/2 * * * *' })).toEqual([
      'schedule.cron: minute field "0/5/2": "0/5/2" has more than one step',
    ]);
  });
});

describe('describeSchedule', () => {
  it('says when it runs and in which zone', () => {
    expect(describeSchedule({ daily: { times: ['02:00'] }, timezone: 'Europe/Berlin' })).toBe(
      'daily at 02:00 Europe/Berlin',
    );
    expect(describeSchedule({ daily: { times: ['14:00', '02:00'] } })).toBe('daily at 02:00, 14:00 UTC');
    expect(
      describeSchedule({ weekly: { days: ['sun', 'thu', 'mon'], times: ['02:00'] } }, 'America/New_York'),
    ).toBe('weekly on mon, thu, sun at 02:00 America/New_York');
    expect(describeSchedule({ monthly: { days: ['last', 15, 1], times: ['02:00'] } })).toBe(
      'monthly on days 1, 15, last at 02:00 UTC',
    );
    expect(describeSchedule({ monthly: { days: ['last'], times: ['02:00'] } })).toBe(
      'monthly on day last at 02:00 UTC',
    );
    expect(describeSchedule({ yearly: { dates: ['07-01', '01-01'], times: ['00:00'] } })).toBe(
      'yearly on 01-01, 07-01 at 00:00 UTC',
    );
    expect(describeSchedule({ cron: '0 2 * * *', timezone: 'Europe/Berlin' })).toBe(
      'cron "0 2 * * *" Europe/Berlin',
    );
  });
});

describe('speed', () => {
  it('computes 10,000 next runs well under a second', () => {
    const schedules: Schedule[] = [
      { daily: { times: ['02:00', '14:00'] }, timezone: 'Europe/Berlin' },
      { weekly: { days: ['mon'], times: ['03:00'] }, timezone: 'America/New_York' },
      { monthly: { days: ['last'], times: ['01:00'] } },
      { cron: '*/15 * * * *', timezone: 'Europe/Berlin' },
      { cron: '0 2 * * *', timezone: 'Australia/Lord_Howe' },
    ];
    const start = t('2026-01-01T00:00:00Z');
    let sum = 0;
    const started = performance.now();
    for (let i = 0; i < 10_000; i++) sum += nextRun(schedules[i % schedules.length]!, start + i * 3_607_000);
    const elapsed = performance.now() - started;
    expect(sum).toBeGreaterThan(0);
    expect(elapsed).toBeLessThan(2000);
  });
});
