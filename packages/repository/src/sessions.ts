import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { checkpoint } from './crash.js';
import { PLANS_PREFIX, SESSIONS_PREFIX } from './format.js';
import type { Repository } from './repository.js';

/**
 * A backup session announces itself before it reads the index, and withdraws after its manifest is stored (or
 * it failed). Prune uses the markers to know which backups might still reference blobs it plans to delete (see
 * prune.ts). A marker ends at expiresAt unless renewed, so that a crashed backup stops holding prune back.
 * Markers are write-once: a renewal writes the next sequence number and deletes the previous one.
 */
export interface SessionRecord {
  id: string;
  seq: number;
  kind: 'backup';
  host: string;
  pid: number;
  startedAt: number;
  expiresAt: number;
}

export const SESSION_MS = 60 * 60_000;

export class BackupSession {
  private record: SessionRecord;
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly repo: Repository,
    record: SessionRecord,
  ) {
    this.record = record;
  }

  static async start(repo: Repository): Promise<BackupSession> {
    const now = repo.now();
    const record: SessionRecord = {
      id: `${now.toString(36)}-${randomBytes(6).toString('hex')}`,
      seq: 0,
      kind: 'backup',
      host: hostname(),
      pid: process.pid,
      startedAt: now,
      expiresAt: now + SESSION_MS,
    };
    await repo.putMeta(key(record), record);
    await checkpoint('session:started');
    const session = new BackupSession(repo, record);
    session.timer = setInterval(() => void session.renew().catch(() => {}), SESSION_MS / 4);
    session.timer.unref();
    return session;
  }

  get id(): string {
    return this.record.id;
  }

  get startedAt(): number {
    return this.record.startedAt;
  }

  async renew(): Promise<void> {
    const old = this.record;
    const next = { ...old, seq: old.seq + 1, expiresAt: this.repo.now() + SESSION_MS };
    await this.repo.putMeta(key(next), next);
    this.record = next;
    await checkpoint('session:renewed');
    await this.repo.store.delete(key(old));
  }

  async end(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.repo.store.delete(key(this.record));
  }
}

function key(r: SessionRecord): string {
  return `${SESSIONS_PREFIX}${r.id}.${r.seq}`;
}

/** Sessions whose markers have not expired. */
export async function activeSessions(repo: Repository): Promise<SessionRecord[]> {
  const { items } = await repo.listMeta<SessionRecord>(SESSIONS_PREFIX);
  const now = repo.now();
  const latest = new Map<string, SessionRecord>();
  for (const { value } of items) {
    const prev = latest.get(value.id);
    if (!prev || value.seq > prev.seq) latest.set(value.id, value);
  }
  return [...latest.values()].filter((s) => s.expiresAt > now);
}

/** Pack ids that prune plans doom: a backup must not deduplicate against their blobs. */
export async function doomedPacks(repo: Repository): Promise<Set<string>> {
  const { items } = await repo.listMeta<{ packs: Array<{ id: string }> }>(PLANS_PREFIX);
  return new Set(items.flatMap((i) => i.value.packs.map((p) => p.id)));
}
