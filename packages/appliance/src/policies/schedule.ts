/**
 * Backup-policy schedules: validation, the next and previous run, and a short description. Pure: no I/O, no
 * clock; time zones come from Intl.DateTimeFormat (Node's ICU).
 *
 * A schedule is exactly one of
 *
 *   daily:   {times: ["02:00", ...]}
 *   weekly:  {days: [mon, thu], times: [...]}          days of the week mon..sun
 *   monthly: {days: [1, 15, last], times: [...]}       1..31 or "last"; a day beyond a month's length does not
 *                                                       run that month (31 runs in January, not in April; 30
 *                                                       never in February); "last" is the month's last day
 *   yearly:  {dates: ["01-01", ...], times: [...]}     "MM-DD"; 02-29 runs only in leap years
 *   cron:    "0 2 * * *"                               minute hour day-of-month month day-of-week
 *
 * plus an optional `timezone` (an IANA name, default given by the caller). Times are "HH:MM", 24 h, local to
 * the schedule's time zone; cron is evaluated in that zone too.
 *
 * Cron: 5 fields with `*`, lists `1,15`, ranges `1-5`, steps `*\/15`, `0-30/10` and `5/15` (= 5-max/15), names
 * jan..dec and sun..sat (any case), day-of-week 0 and 7 both Sunday. Vixie's day rule: when both day fields
 * are restricted, a day runs if either matches (`0 0 1 * mon` = every 1st and every Monday); a day field that
 * begins with `*` (`*`, `*\/2`) counts as unrestricted, and then both fields must match. Validation refuses
 * cron expressions that never run or run less often than once in the search horizon (8 years).
 *
 * DST and other offset changes (a local time is a wall-clock date and time in the schedule's zone):
 * - a local time that does not exist (the spring gap: 02:30 on 2026-03-29 in Europe/Berlin) runs at the first
 *   instant after the gap (03:00 CEST = 01:00Z);
 * - a local time that occurs twice (autumn: 02:30 on 2026-10-25 in Europe/Berlin) runs once, at its first
 *   occurrence (02:30 CEST = 00:30Z), not again an hour later;
 * - several local times that map to the same instant (02:00 and 03:00 on a spring day, hourly cron) run once.
 * Equivalently, a local time L runs at the first instant whose local time is L or later.
 *
 * The search goes day by day over local dates and only converts the candidate times of matching days; it
 * looks at most HORIZON_DAYS (8 years and a few days) ahead or back. nextRun returns Infinity and
 * previousRun undefined when nothing runs within it (e.g. cron "0 0 30 2 *", which validation refuses).
 */

export type Weekday = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';

/** Times are "HH:MM" (00:00-23:59), local to the schedule's time zone. */
export type Schedule = { timezone?: string } & (
  | { daily: { times: readonly string[] } }
  | { weekly: { days: readonly Weekday[]; times: readonly string[] } }
  | { monthly: { days: readonly (number | 'last')[]; times: readonly string[] } }
  | { yearly: { dates: readonly string[]; times: readonly string[] } }
  | { cron: string }
);

/** A parsed cron expression: the values each field allows (sorted; day-of-week 0-6, Sunday 0). */
export interface CronSpec {
  minute: number[];
  hour: number[];
  dayOfMonth: number[];
  month: number[];
  dayOfWeek: number[];
  /** False when the field begins with `*` (Vixie): then day-of-month AND day-of-week must match, else OR. */
  dayOfMonthRestricted: boolean;
  dayOfWeekRestricted: boolean;
}

/** How far nextRun / previousRun look, in local days: 8 years (the longest gap between two 29 Februaries) and some. */
export const HORIZON_DAYS = 8 * 366 + 2;

const DAY = 86_400_000;
const HOUR = 3_600_000;
const MINUTE = 60_000;
const KINDS = ['daily', 'weekly', 'monthly', 'yearly', 'cron'] as const;
type Kind = (typeof KINDS)[number];
const WEEKDAYS: readonly Weekday[] = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const WEEKDAY_ORDER = 'mon, tue, wed, thu, fri, sat, sun';
const TIME = /^([01]\d|2[0-3]):([0-5]\d)$/;
const DATE = /^(\d\d)-(\d\d)$/;
const MAX_MONTH_LENGTH = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

// ---------------------------------------------------------------------------------------------------------
// Time zones

interface Zone {
  /** Local wall-clock minus UTC, in ms, at instant t. */
  offset(t: number): number;
}

const zones = new Map<string, Zone | null>();

function zoneOf(name: string): Zone | undefined {
  let zone = zones.get(name);
  if (zone === undefined) {
    zone = makeZone(name);
    if (zones.size > 1000) zones.clear();
    zones.set(name, zone);
  }
  return zone ?? undefined;
}

function makeZone(name: string): Zone | null {
  // Offsets such as "+01:00" are not IANA names (newer engines accept them).
  if (!/^[A-Za-z]/.test(name)) return null;
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: name,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  } catch {
    return null;
  }
  if (format.resolvedOptions().timeZone === 'UTC') return { offset: () => 0 };
  return {
    offset(t: number): number {
      // "3/29/2026, 02:30:00": month, day, year, hour, minute, second.
      const n = format.format(t).match(/\d+/g)!;
      const local = Date.UTC(+n[2]!, +n[0]! - 1, +n[1]!, +n[3]!, +n[4]!, +n[5]!);
      return local - Math.floor(t / 1000) * 1000;
    },
  };
}

/** The instant a local time L (wall-clock ms as if UTC) runs at: the first instant whose local time is >= L. */
function localToInstant(zone: Zone, local: number): number {
  const early = zone.offset(local - 15 * HOUR);
  const late = zone.offset(local + 15 * HOUR);
  if (early === late) return local - early;
  const candidates = [local - early, local - late].filter((t) => zone.offset(t) === local - t);
  if (candidates.length > 0) return Math.min(...candidates);
  // In a gap (the offset grows from `early` to `late`): find the change, to the second.
  let lo = Math.floor((local - late) / 1000); // still the earlier offset
  let hi = Math.ceil((local - early) / 1000); // already the later one
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (zone.offset(mid * 1000) === early) lo = mid;
    else hi = mid;
  }
  return hi * 1000;
}

// ---------------------------------------------------------------------------------------------------------
// Calendar arithmetic on local day numbers (days since 1970-01-01)

const isLeap = (y: number): boolean => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
const monthLength = (y: number, m: number): number =>
  m === 2 ? (isLeap(y) ? 29 : 28) : MAX_MONTH_LENGTH[m]!;

/** A local date; `dow` 0 = Sunday. */
interface Civil {
  y: number;
  m: number;
  d: number;
  dow: number;
}

/** Sets `c` to the date of day number `day` (Howard Hinnant's civil_from_days). */
function civil(day: number, c: Civil): Civil {
  const z = day + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  c.d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  c.m = mp < 10 ? mp + 3 : mp - 9;
  c.y = yoe + era * 400 + (c.m <= 2 ? 1 : 0);
  c.dow = (((day + 4) % 7) + 7) % 7;
  return c;
}

// ---------------------------------------------------------------------------------------------------------
// Validation

const show = (value: unknown): string => {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
};

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** What each schedule kind runs on: a day matcher and the sorted, distinct minutes of the day. */
interface Plan {
  dayMatches(c: Civil): boolean;
  minutes: number[];
}

interface Analysis {
  errors: string[];
  /** Problems with a schedule that is well formed but never (or too rarely) runs. */
  warnings: string[];
  plan?: Plan;
  zone?: string;
}

function unknownKeys(
  value: Record<string, unknown>,
  allowed: readonly string[],
  path: string,
  errors: string[],
): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key))
      errors.push(`${path}: unknown key ${show(key)} (allowed: ${allowed.join(', ')})`);
  }
}

/** Checks a list field: present, an array, not empty, each item valid (parse returns undefined if not), no repeats. */
function list<T>(
  value: unknown,
  path: string,
  what: [one: string, many: string],
  parse: (item: unknown, itemPath: string) => T | undefined,
  errors: string[],
): T[] | undefined {
  if (value === undefined) {
    errors.push(`${path}: missing; expected a list of ${what[1]}`);
    return undefined;
  }
  if (!Array.isArray(value)) {
    errors.push(`${path}: expected a list of ${what[1]}, got ${show(value)}`);
    return undefined;
  }
  if (value.length === 0) {
    errors.push(`${path}: empty; give at least one ${what[0]}`);
    return undefined;
  }
  const out: T[] = [];
  let ok = true;
  value.forEach((item: unknown, i: number) => {
    const itemPath = `${path}[${i}]`;
    const first = value.findIndex((other: unknown) => other === item);
    if (first < i) {
      errors.push(`${itemPath}: ${show(item)} repeats ${path.slice(path.lastIndexOf('.') + 1)}[${first}]`);
      ok = false;
      return;
    }
    const parsed = parse(item, itemPath);
    if (parsed === undefined) ok = false;
    else out.push(parsed);
  });
  return ok ? out : undefined;
}

function times(value: unknown, path: string, errors: string[]): number[] | undefined {
  const minutes = list(
    value,
    path,
    ['time of day (HH:MM)', 'times of day (HH:MM)'],
    (item, itemPath) => {
      const match = typeof item === 'string' ? TIME.exec(item) : null;
      if (match) return Number(match[1]) * 60 + Number(match[2]);
      const hint = typeof item === 'number' ? '; write it as a quoted string' : '';
      errors.push(`${itemPath}: ${show(item)} is not a time of day (HH:MM, 00:00-23:59${hint})`);
      return undefined;
    },
    errors,
  );
  return minutes && [...minutes].sort((a, b) => a - b);
}

function analyse(value: unknown, path: string, checkRarity = true): Analysis {
  const errors: string[] = [];
  const warnings: string[] = [];
  const allowed = [...KINDS, 'timezone'];
  if (!isObject(value)) {
    errors.push(
      `${path}: expected an object with one of ${KINDS.join(', ')} (and optionally timezone), got ${show(value)}`,
    );
    return { errors, warnings };
  }
  unknownKeys(value, allowed, path, errors);
  let zone: string | undefined;
  if ('timezone' in value) {
    const tz = value.timezone;
    if (typeof tz !== 'string')
      errors.push(`${path}.timezone: expected an IANA time zone name (e.g. Europe/Berlin), got ${show(tz)}`);
    else if (!zoneOf(tz)) errors.push(`${path}.timezone: ${show(tz)} is not an IANA time zone`);
    else zone = tz;
  }
  const kinds = KINDS.filter((kind) => kind in value);
  if (kinds.length !== 1) {
    const has = kinds.length === 0 ? 'has none' : `has ${kinds.join(' and ')}`;
    errors.push(`${path}: ${has}; needs exactly one of ${KINDS.join(', ')}`);
    return { errors, warnings };
  }
  const kind = kinds[0] as Kind;
  const body = value[kind];
  const at = `${path}.${kind}`;
  let plan: Plan | undefined;
  if (kind === 'cron') {
    if (typeof body !== 'string') {
      errors.push(
        `${at}: expected a cron expression (minute hour day-of-month month day-of-week), got ${show(body)}`,
      );
    } else {
      const spec = parseCron(body);
      if (Array.isArray(spec)) errors.push(...spec.map((problem) => `${at}: ${problem}`));
      else {
        plan = cronPlan(spec);
        const rarity = checkRarity ? cronRarity(body, plan) : undefined;
        if (rarity) warnings.push(`${at}: ${rarity}`);
      }
    }
  } else {
    const fields = {
      daily: ['times'],
      weekly: ['days', 'times'],
      monthly: ['days', 'times'],
      yearly: ['dates', 'times'],
    }[kind];
    if (!isObject(body)) {
      errors.push(`${at}: expected an object with ${fields.join(' and ')}, got ${show(body)}`);
      return { errors, warnings };
    }
    unknownKeys(body, fields, at, errors);
    const minutes = times(body.times, `${at}.times`, errors);
    let dayMatches: ((c: Civil) => boolean) | undefined;
    if (kind === 'daily') dayMatches = () => true;
    else if (kind === 'weekly') {
      const days = list(
        body.days,
        `${at}.days`,
        [`day of the week (${WEEKDAY_ORDER})`, `days of the week (${WEEKDAY_ORDER})`],
        (item, itemPath) => {
          const dow = WEEKDAYS.indexOf(item as Weekday);
          if (dow >= 0) return dow;
          errors.push(`${itemPath}: ${show(item)} is not a day of the week (${WEEKDAY_ORDER})`);
          return undefined;
        },
        errors,
      );
      if (days) dayMatches = (c) => days.includes(c.dow);
    } else if (kind === 'monthly') {
      const days = list(
        body.days,
        `${at}.days`,
        ['day of the month (1-31 or last)', 'days of the month (1-31 or last)'],
        (item, itemPath) => {
          if (
            item === 'last' ||
            (Number.isInteger(item) && (item as number) >= 1 && (item as number) <= 31)
          ) {
            return item as number | 'last';
          }
          errors.push(`${itemPath}: ${show(item)} is not a day of the month (1-31 or "last")`);
          return undefined;
        },
        errors,
      );
      if (days) {
        const last = days.includes('last');
        dayMatches = (c) => days.includes(c.d) || (last && c.d === monthLength(c.y, c.m));
      }
    } else {
      const dates = list(
        body.dates,
        `${at}.dates`,
        ['date of the year (MM-DD)', 'dates of the year (MM-DD)'],
        (item, itemPath) => {
          const match = typeof item === 'string' ? DATE.exec(item) : null;
          const m = match ? Number(match[1]) : 0;
          const d = match ? Number(match[2]) : 0;
          if (m >= 1 && m <= 12 && d >= 1 && d <= MAX_MONTH_LENGTH[m]!) return m * 100 + d;
          errors.push(
            `${itemPath}: ${show(item)} is not a date of the year (MM-DD, 01-01 to 12-31; 02-29 runs in leap years)`,
          );
          return undefined;
        },
        errors,
      );
      if (dates) dayMatches = (c) => dates.includes(c.m * 100 + c.d);
    }
    if (minutes && dayMatches) plan = { dayMatches, minutes };
  }
  if (errors.length > 0) return { errors, warnings };
  return zone === undefined ? { errors, warnings, plan: plan! } : { errors, warnings, plan: plan!, zone };
}

/**
 * Every problem with a schedule document, each naming the field path, what is wrong and what is allowed, e.g.
 * `schedule.daily.times[1]: "25:00" is not a time of day (HH:MM, 00:00-23:59)`. Empty when valid.
 */
export function scheduleErrors(value: unknown, path = 'schedule'): string[] {
  const { errors, warnings } = analyse(value, path);
  return [...errors, ...warnings];
}

// ---------------------------------------------------------------------------------------------------------
// Cron

interface CronField {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
  /** The first name's value (jan = 1, sun = 0). */
  namesFrom?: number;
  allowed: string;
}

const CRON_FIELDS: readonly CronField[] = [
  { name: 'minute', min: 0, max: 59, allowed: '0-59' },
  { name: 'hour', min: 0, max: 23, allowed: '0-23' },
  { name: 'day-of-month', min: 1, max: 31, allowed: '1-31' },
  {
    name: 'month',
    min: 1,
    max: 12,
    names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'],
    namesFrom: 1,
    allowed: '1-12 or jan-dec',
  },
  {
    name: 'day-of-week',
    min: 0,
    max: 7,
    names: WEEKDAYS,
    namesFrom: 0,
    allowed: '0-7 or sun-sat; 0 and 7 are Sunday',
  },
];

/** One field's values, or a problem. */
function cronField(text: string, field: CronField): number[] | string {
  const values = new Set<number>();
  const value = (token: string): number | string => {
    if (/^\d+$/.test(token)) {
      const n = Number(token);
      return n >= field.min && n <= field.max ? n : `${token} is out of range (${field.allowed})`;
    }
    const index = field.names?.indexOf(token.toLowerCase()) ?? -1;
    if (index >= 0) return index + field.namesFrom!;
    return `${show(token)} is not a number${field.names ? ' or name' : ''} (${field.allowed})`;
  };
  for (const item of text.split(',')) {
    if (item === '') return `empty list item (${field.allowed})`;
    const [base = '', stepText, extra] = item.split('/');
    if (extra !== undefined) return `${show(item)} has more than one step`;
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText) || Number(stepText) < 1)
        return `step ${show(stepText)} is not a positive whole number`;
      step = Number(stepText);
    }
    let from: number;
    let to: number;
    if (base === '*') {
      from = field.min;
      to = field.name === 'day-of-week' ? 6 : field.max;
    } else {
      const [a = '', b, more] = base.split('-');
      if (more !== undefined) return `${show(base)} is not a range (a-b)`;
      const first = value(a);
      if (typeof first === 'string') return first;
      from = first;
      if (b === undefined) to = stepText === undefined ? from : field.max;
      else {
        const last = value(b);
        if (typeof last === 'string') return last;
        to = last;
        if (to < from) return `range ${show(base)} runs backwards`;
      }
    }
    for (let v = from; v <= to; v += step) values.add(field.name === 'day-of-week' && v === 7 ? 0 : v);
  }
  return [...values].sort((a, b) => a - b);
}

const cronCache = new Map<string, CronSpec | string[]>();

/** Parses a 5-field cron expression; returns the problems (each naming its field) if it is not one. */
export function parseCron(expr: string): CronSpec | string[] {
  const cached = cronCache.get(expr);
  if (cached) return cached;
  const fields = expr.trim().split(/\s+/).filter(Boolean);
  let result: CronSpec | string[];
  if (fields.length !== 5) {
    result = [
      `${show(expr)} has ${fields.length} field${fields.length === 1 ? '' : 's'}; expected 5 (minute hour day-of-month month day-of-week)`,
    ];
  } else {
    const problems: string[] = [];
    const parsed = fields.map((text, i) => {
      const field = CRON_FIELDS[i]!;
      const values = cronField(text, field);
      if (typeof values === 'string') {
        problems.push(`${field.name} field ${show(text)}: ${values}`);
        return [];
      }
      return values;
    });
    result =
      problems.length > 0
        ? problems
        : {
            minute: parsed[0]!,
            hour: parsed[1]!,
            dayOfMonth: parsed[2]!,
            month: parsed[3]!,
            dayOfWeek: parsed[4]!,
            dayOfMonthRestricted: !fields[2]!.startsWith('*'),
            dayOfWeekRestricted: !fields[4]!.startsWith('*'),
          };
  }
  if (cronCache.size > 1000) cronCache.clear();
  cronCache.set(expr, result);
  return result;
}

const cronPlans = new WeakMap<CronSpec, Plan>();

function cronPlan(spec: CronSpec): Plan {
  let plan = cronPlans.get(spec);
  if (plan) return plan;
  const dom = new Set(spec.dayOfMonth);
  const month = new Set(spec.month);
  const dow = new Set(spec.dayOfWeek);
  const either = spec.dayOfMonthRestricted && spec.dayOfWeekRestricted;
  const minutes = spec.hour.flatMap((h) => spec.minute.map((m) => h * 60 + m));
  plan = {
    minutes,
    dayMatches: (c) =>
      month.has(c.m) && (either ? dom.has(c.d) || dow.has(c.dow) : dom.has(c.d) && dow.has(c.dow)),
  };
  cronPlans.set(spec, plan);
  return plan;
}

/** Why a cron expression never or too rarely runs (over a whole 400-year Gregorian cycle), if it does. */
function cronRarity(expr: string, plan: Plan): string | undefined {
  if (rarities.has(expr)) return rarities.get(expr);
  const rarity = findRarity(expr, plan);
  if (rarities.size > 1000) rarities.clear();
  rarities.set(expr, rarity);
  return rarity;
}

const rarities = new Map<string, string | undefined>();

function findRarity(expr: string, plan: Plan): string | undefined {
  const c: Civil = { y: 0, m: 0, d: 0, dow: 0 };
  const start = Date.UTC(2000, 0, 1) / DAY;
  const cycle = 146097;
  let first = -1;
  let last = -1;
  let gap = 0;
  for (let day = start; day < start + cycle; day++) {
    if (!plan.dayMatches(civil(day, c))) continue;
    if (first < 0) first = day;
    else gap = Math.max(gap, day - last);
    last = day;
  }
  if (first < 0) return `${show(expr)} never runs (no day matches its day-of-month, month and day-of-week)`;
  gap = Math.max(gap, first + cycle - last);
  if (gap > HORIZON_DAYS)
    return `${show(expr)} runs too rarely (up to ${Math.round(gap / 365.25)} years between runs; at most 8 allowed)`;
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Runs

function compile(s: Schedule, defaultZone: string): { plan: Plan; zone: Zone } {
  const analysis = analyse(s, 'schedule', false);
  if (analysis.errors.length > 0) throw new TypeError(`invalid schedule: ${analysis.errors.join('; ')}`);
  const name = analysis.zone ?? defaultZone;
  const zone = zoneOf(name);
  if (!zone) throw new RangeError(`${show(name)} is not an IANA time zone`);
  return { plan: analysis.plan!, zone };
}

function checkInstant(t: number, name: string): void {
  if (!Number.isFinite(t)) throw new RangeError(`${name} must be a finite epoch-ms instant, got ${t}`);
}

/**
 * The first run strictly after `after` (epoch ms); Infinity if none within HORIZON_DAYS. Throws a TypeError
 * for an invalid schedule (see scheduleErrors).
 */
export function nextRun(s: Schedule, after: number, defaultZone = 'UTC'): number {
  checkInstant(after, 'after');
  const { plan, zone } = compile(s, defaultZone);
  const c: Civil = { y: 0, m: 0, d: 0, dow: 0 };
  // Local times of earlier days run at or before `after` (a local time runs when the wall clock first reaches it).
  const first = Math.floor((after + zone.offset(after)) / DAY);
  for (let day = first; day <= first + HORIZON_DAYS; day++) {
    if (!plan.dayMatches(civil(day, c))) continue;
    const base = day * DAY;
    const offset = zone.offset(base - 15 * HOUR);
    const steady = offset === zone.offset(base + DAY + 15 * HOUR);
    for (const minute of plan.minutes) {
      const local = base + minute * MINUTE;
      const t = steady ? local - offset : localToInstant(zone, local);
      if (t > after) return t;
    }
  }
  return Infinity;
}

/** The latest run at or before `atOrBefore`; undefined if none within HORIZON_DAYS. */
export function previousRun(s: Schedule, atOrBefore: number, defaultZone = 'UTC'): number | undefined {
  checkInstant(atOrBefore, 'atOrBefore');
  const { plan, zone } = compile(s, defaultZone);
  const c: Civil = { y: 0, m: 0, d: 0, dow: 0 };
  // From the next local day: in an overlap spanning midnight, its first times may already have run.
  const first = Math.floor((atOrBefore + zone.offset(atOrBefore)) / DAY) + 1;
  for (let day = first; day >= first - HORIZON_DAYS; day--) {
    if (!plan.dayMatches(civil(day, c))) continue;
    const base = day * DAY;
    const offset = zone.offset(base - 15 * HOUR);
    const steady = offset === zone.offset(base + DAY + 15 * HOUR);
    for (let i = plan.minutes.length - 1; i >= 0; i--) {
      const local = base + plan.minutes[i]! * MINUTE;
      const t = steady ? local - offset : localToInstant(zone, local);
      if (t <= atOrBefore) return t;
    }
  }
  return undefined;
}

/**
 * The length (ms) of the run interval containing `at`: from the latest run at or before `at` to the run after
 * it. Infinity when there is no run within HORIZON_DAYS before `at` (nothing can have been missed).
 */
export function intervalAt(s: Schedule, at: number, defaultZone = 'UTC'): number {
  const previous = previousRun(s, at, defaultZone);
  return previous === undefined ? Infinity : nextRun(s, previous, defaultZone) - previous;
}

/** A short description: "daily at 02:00 Europe/Berlin", "weekly on mon, thu at 02:00, 14:00 UTC". */
export function describeSchedule(s: Schedule, defaultZone = 'UTC'): string {
  const zone = s.timezone ?? defaultZone;
  const at = (times: readonly string[]): string => `at ${[...times].sort().join(', ')}`;
  if ('daily' in s) return `daily ${at(s.daily.times)} ${zone}`;
  if ('weekly' in s) {
    const days = [...s.weekly.days].sort(
      (a, b) => ((WEEKDAYS.indexOf(a) + 6) % 7) - ((WEEKDAYS.indexOf(b) + 6) % 7),
    );
    return `weekly on ${days.join(', ')} ${at(s.weekly.times)} ${zone}`;
  }
  if ('monthly' in s) {
    const days = [...s.monthly.days].sort((a, b) => (a === 'last' ? 32 : a) - (b === 'last' ? 32 : b));
    return `monthly on day${days.length === 1 ? '' : 's'} ${days.join(', ')} ${at(s.monthly.times)} ${zone}`;
  }
  if ('yearly' in s)
    return `yearly on ${[...s.yearly.dates].sort().join(', ')} ${at(s.yearly.times)} ${zone}`;
  return `cron "${s.cron}" ${zone}`;
}
