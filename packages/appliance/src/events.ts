import type { Catalog, EventRecord } from '@lifeboat/catalog';
import { type Clock, iso } from './clock.js';
import type { Permission } from './permissions.js';

/**
 * Live events (the API's server-sent events): persisted in the catalog so that a client reconnecting with
 * Last-Event-ID gets what it missed, then pushed to subscribers in memory. Each topic is readable with one
 * permission: subscribers only see topics their role may read.
 */
export const TOPIC_PERMISSION: Record<string, Permission> = {
  audit: 'audit.read',
  'user.changed': 'users.read',
  'inventory.refreshed': 'inventory.read',
  'session.progress': 'sessions.read',
};

const KEEP = 10_000;
const TRIM_EVERY = 500;

export type EventListener = (event: EventRecord) => void;

export class EventHub {
  private readonly listeners = new Set<EventListener>();
  private appended = 0;

  constructor(
    private readonly catalog: Catalog,
    private readonly clock: Clock,
  ) {}

  async publish(topic: string, data: unknown): Promise<EventRecord> {
    const event = await this.catalog.events.append(topic, data, iso(this.clock));
    if (++this.appended % TRIM_EVERY === 0) await this.catalog.events.trim(KEEP);
    for (const listener of this.listeners) listener(event);
    return event;
  }

  /** Events after `afterId` that the catalog still holds, oldest first, in pages. */
  async *replay(afterId: number, pageSize = 500): AsyncGenerator<EventRecord> {
    let last = afterId;
    for (;;) {
      const page = await this.catalog.events.after(last, pageSize);
      yield* page;
      if (page.length < pageSize) return;
      last = page[page.length - 1]!.id;
    }
  }

  lastId(): Promise<number> {
    return this.catalog.events.lastId();
  }

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
