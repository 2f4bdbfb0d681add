import { AwsError } from '../core/errors.js';

/** `lost`: the service does the request, then the connection drops before the answer (the outcome unknown). */
export type FaultKind = 'throttle' | 'error5xx' | 'latency' | 'bandwidth' | 'drop' | 'lost';

/**
 * A fault to inject into matching AWS requests: at a rate (0..1, each call drawn independently) or for the next
 * `count` calls; without either it applies to every call. service/operation '*' or absent match all.
 */
export interface FaultRule {
  id?: string;
  service?: string;
  operation?: string;
  /** Only requests signed for this region (SigV4 scope); all regions when absent. */
  region?: string;
  /** Only requests of this AWS account (12 digits: the caller's, assumed roles included); all when absent. */
  account?: string;
  kind: FaultKind;
  rate?: number;
  count?: number;
  latencyMs?: number; // latency: delay before answering
  bytesPerSecond?: number; // bandwidth: pace of request and response bodies
  status?: 500 | 503; // error5xx: which one (500 by default)
}

const KINDS: FaultKind[] = ['throttle', 'error5xx', 'latency', 'bandwidth', 'drop', 'lost'];

/** The rules, and the seeded random draw that makes rate-based faults reproducible. */
export class Faults {
  private rules: Array<FaultRule & { id: string }> = [];
  private seq = 0;
  private seed = 0x9e3779b9;

  add(rule: FaultRule): string {
    validate(rule);
    const id = rule.id ?? `fault-${++this.seq}`;
    this.rules = this.rules.filter((r) => r.id !== id);
    this.rules.push({ ...rule, id });
    return id;
  }

  list(): FaultRule[] {
    return this.rules.map((r) => ({ ...r }));
  }

  remove(id: string): boolean {
    const before = this.rules.length;
    this.rules = this.rules.filter((r) => r.id !== id);
    return this.rules.length !== before;
  }

  clear(): void {
    this.rules = [];
  }

  /**
   * The rules that fire for this call (count-limited rules are used up). Delays combine, but at most one rule
   * decides the outcome (throttle, 5xx, drop), in the order the rules were added: two "next call" rules then
   * fail two successive calls.
   */
  draw(service: string, operation: string, where: { region?: string; account?: string } = {}): FaultRule[] {
    if (this.rules.length === 0) return [];
    const fired: FaultRule[] = [];
    let decided = false;
    for (const r of this.rules) {
      if (r.service && r.service !== '*' && r.service !== service) continue;
      if (r.operation && r.operation !== '*' && r.operation !== operation) continue;
      if (r.region && r.region !== '*' && r.region !== where.region) continue;
      if (r.account && r.account !== '*' && r.account !== where.account) continue;
      const outcome = r.kind === 'throttle' || r.kind === 'error5xx' || r.kind === 'drop';
      if (outcome && decided) continue;
      if (r.rate !== undefined && this.random() >= r.rate) continue;
      decided ||= outcome;
      if (r.count !== undefined) r.count--;
      fired.push(r);
    }
    this.rules = this.rules.filter((r) => r.count === undefined || r.count > 0);
    return fired;
  }

  /** mulberry32: a small seeded generator, so that a test's faults fall the same way every run. */
  private random(): number {
    this.seed = (this.seed + 0x6d2b79f5) >>> 0;
    let t = this.seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}

function validate(rule: FaultRule): void {
  const bad = (m: string) => new AwsError('InvalidParameterValue', m);
  if (!KINDS.includes(rule.kind)) throw bad(`kind must be one of ${KINDS.join(', ')}`);
  if (rule.rate !== undefined && !(rule.rate >= 0 && rule.rate <= 1)) throw bad('rate must be within 0..1');
  if (rule.count !== undefined && !(Number.isInteger(rule.count) && rule.count > 0)) {
    throw bad('count must be a positive integer');
  }
  if (rule.kind === 'latency' && !(Number(rule.latencyMs) >= 0)) throw bad('latency needs latencyMs');
  if (rule.kind === 'bandwidth' && !(Number(rule.bytesPerSecond) > 0))
    throw bad('bandwidth needs bytesPerSecond');
}
