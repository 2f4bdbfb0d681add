/**
 * The policies' schedules. Each tick looks at every enabled, scheduled policy: the latest scheduled instant not
 * handled yet runs if it is less than one interval late (a run missed while the appliance was down runs once at
 * start), else it is recorded as missed; a run whose previous session still runs is skipped and recorded. Ticks
 * come every 30 s and after every move of a test clock; they never overlap.
 */
import type { PolicyRecord } from '@lifeboat/catalog';
import { type AuditLog, SYSTEM } from '../audit.js';
import { type Clock, TestClock } from '../clock.js';
import type { PolicyDocument } from './document.js';
import { intervalAt, nextRun, previousRun } from './schedule.js';
import type { PolicyService } from './service.js';

const TICK_MS = 30_000;
/** The janitor runs this long after the appliance starts, then daily (appliance clock). */
const JANITOR_FIRST_MS = 10 * 60_000;
const JANITOR_EVERY_MS = 24 * 3_600_000;

export class PolicyScheduler {
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private ticking: Promise<void> | undefined;
  private again = false;
  private janitorDue = 0;

  constructor(
    private readonly policies: PolicyService,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
    private readonly log: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
    /** Starts a janitor session over every account (PointService.janitor); none when absent. */
    private readonly janitor?: () => Promise<{ id: string; tasks: unknown[] }>,
  ) {}

  start(): void {
    this.stop();
    this.janitorDue = this.clock.now().getTime() + JANITOR_FIRST_MS;
    this.timer = setInterval(() => this.kick(), TICK_MS);
    this.timer.unref();
    if (this.clock instanceof TestClock) this.unsubscribe = this.clock.onAdvance(() => this.kick());
    this.kick();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  /** Resolves when the current tick (and one asked for meanwhile) is done. */
  async idle(): Promise<void> {
    while (this.ticking) await this.ticking;
  }

  private kick(): void {
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = this.tick()
      .catch((err) => this.log(`scheduler: ${err instanceof Error ? err.message : String(err)}`))
      .finally(() => {
        this.ticking = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  private async tick(): Promise<void> {
    await this.maybeJanitor();
    for (let after: string | undefined; ; ) {
      const page = await this.policies.list({ limit: 100, ...(after && { after }) });
      for (const p of page) {
        if (!p.enabled || !p.document.schedule) continue;
        await this.consider(await this.policies.record(p.name)).catch((err) =>
          this.log(`scheduler: policy ${p.name}: ${err instanceof Error ? err.message : String(err)}`),
        );
      }
      if (page.length < 100) return;
      after = page[page.length - 1]!.name;
    }
  }

  private async consider(p: PolicyRecord): Promise<void> {
    const schedule = (p.document as unknown as PolicyDocument).schedule!;
    const zone = this.policies.defaultZone;
    const now = this.clock.now().getTime();
    const due = previousRun(schedule, now, zone);
    if (due === undefined) return;
    const handled = Date.parse(p.lastDueAt ?? p.createdAt);
    if (due <= handled) return;
    await this.policies.markDue(p.id, new Date(due).toISOString());
    const at = new Date(due).toISOString();
    // Runs due between the last one handled and this one were missed (the appliance was down or stopped):
    // recorded, not run; the latest runs once, being less than one interval late by construction.
    const missed: number[] = [];
    for (
      let t = nextRun(schedule, handled, zone);
      t < due && missed.length < 1000;
      t = nextRun(schedule, t, zone)
    ) {
      missed.push(t);
    }
    if (missed.length > 0) {
      const first = new Date(missed[0]!).toISOString();
      const last = new Date(missed.at(-1)!).toISOString();
      await this.record(p, 'policy.run.missed', { runs: missed.length, first, last });
      this.log(`scheduler: policy ${p.name}: ${missed.length} run(s) missed from ${first} to ${last}`);
    }
    const late = now - due;
    if (late >= intervalAt(schedule, due, zone)) {
      await this.record(p, 'policy.run.missed', { runs: 1, first: at, last: at });
      this.log(`scheduler: policy ${p.name}: the run due ${at} was missed (more than one interval late)`);
      return;
    }
    const running = await this.policies.runningSession(p);
    if (running) {
      await this.record(p, 'policy.run.skipped', { due: at, runningSession: running });
      this.log(`scheduler: policy ${p.name}: the run due ${at} skipped: session ${running} still runs`);
      return;
    }
    const s = await this.policies.startRun(SYSTEM, p);
    this.log(`scheduler: policy ${p.name}: run due ${at} started: session ${s.id} (${s.tasks.length} tasks)`);
  }

  /** Leftovers of interrupted sessions are looked for daily, whether or not a policy ran. */
  private async maybeJanitor(): Promise<void> {
    if (!this.janitor || this.clock.now().getTime() < this.janitorDue) return;
    this.janitorDue = this.clock.now().getTime() + JANITOR_EVERY_MS;
    try {
      const s = await this.janitor();
      this.log(`scheduler: janitor started: session ${s.id} (${s.tasks.length} account × region tasks)`);
    } catch (err) {
      // No account registered yet, or the appliance is stopping: the next day tries again.
      this.log(`scheduler: janitor not started: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private record(p: PolicyRecord, action: string, details: Record<string, unknown>): Promise<void> {
    return this.audit.note(SYSTEM, { action, target: `policy/${p.name}`, details });
  }
}
