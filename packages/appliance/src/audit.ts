import type { AuditEntry, AuditOutcome, AuditQuery, Catalog, CatalogStores } from '@lifeboat/catalog';
import { type Clock, iso } from './clock.js';
import type { EventHub } from './events.js';

/** Who acts: a signed-in user, or the appliance itself (first start, maintenance). */
export interface Actor {
  userId: string | null;
  name: string | null;
  address: string | null;
}

export const SYSTEM: Actor = { userId: null, name: null, address: null };

export interface AuditRecord {
  action: string;
  target?: string | null;
  outcome?: AuditOutcome;
  reason?: string | null;
  /** Never secrets: callers pass names, ids and changed field names, not values of passwords or tokens. */
  details?: Record<string, unknown>;
}

export class AuditLog {
  constructor(
    private readonly catalog: Catalog,
    private readonly events: EventHub,
    private readonly clock: Clock,
  ) {}

  /**
   * Appends an entry, inside the caller's transaction when given (the change and its record land together),
   * and publishes it as an `audit` event once written.
   */
  async record(actor: Actor, entry: AuditRecord, tx: CatalogStores = this.catalog): Promise<AuditEntry> {
    const written = await tx.audit.append({
      at: iso(this.clock),
      actor: actor.name,
      address: actor.address,
      action: entry.action,
      target: entry.target ?? null,
      outcome: entry.outcome ?? 'ok',
      reason: entry.reason ?? null,
      details: entry.details ?? {},
    });
    return written;
  }

  /**
   * Runs a change and its audit entries in one transaction (both land or neither), then publishes the entries as
   * `audit` events: subscribers never hear of a change that was rolled back.
   */
  async change<T>(
    actor: Actor,
    fn: (tx: CatalogStores, note: (entry: AuditRecord) => Promise<void>) => Promise<T>,
  ): Promise<T> {
    const written: AuditEntry[] = [];
    const result = await this.catalog.transaction((tx) =>
      fn(tx, async (entry) => {
        written.push(await this.record(actor, entry, tx));
      }),
    );
    for (const e of written) await this.events.publish('audit', e);
    return result;
  }

  /** A record of something that changed nothing (a denied or failed attempt), published at once. */
  async note(actor: Actor, entry: AuditRecord): Promise<void> {
    await this.events.publish('audit', await this.record(actor, entry));
  }

  list(query: AuditQuery): Promise<AuditEntry[]> {
    return this.catalog.audit.list(query);
  }
}
