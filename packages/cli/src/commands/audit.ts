/** `lifeboat audit`: the appliance's audit log, newest first, or followed live (`--follow`, server-sent events). */
import type { Command } from 'commander';
import { session } from '../appliance/session.js';
import { followEvents } from '../appliance/sse.js';
import { formatTime, printTable } from '../appliance/table.js';
import { globals, print, printJson } from '../context.js';
import { UsageError } from '../errors.js';
import { positive } from './users.js';

export interface AuditEntryJson {
  id: number;
  at: string;
  actor: string | null;
  address: string | null;
  action: string;
  target: string | null;
  outcome: string;
  reason: string | null;
  details: Record<string, unknown>;
}

interface AuditOptions {
  limit?: string;
  actor?: string;
  action?: string;
  since?: string;
  follow?: boolean;
}

/** An ISO time, or an age (`90s`, `15m`, `12h`, `7d`) before now. */
export function parseSince(text: string, now = Date.now()): string {
  const age = /^(\d+)\s*([smhd])$/.exec(text.trim());
  if (age) {
    const unit = { s: 1, m: 60, h: 3600, d: 86400 }[age[2] as 's' | 'm' | 'h' | 'd'];
    return new Date(now - Number(age[1]) * unit * 1000).toISOString();
  }
  const t = Date.parse(text);
  if (Number.isNaN(t))
    throw new UsageError(`--since ${text}: expected an ISO time (2025-06-01T12:00:00Z) or an age (12h, 7d)`);
  return new Date(t).toISOString();
}

/** What the server filters by, applied to live events too. */
export function matches(e: AuditEntryJson, f: { actor?: string; action?: string; since?: string }): boolean {
  if (f.actor !== undefined && e.actor !== f.actor) return false;
  if (f.action !== undefined) {
    if (f.action.endsWith('.') ? !e.action.startsWith(f.action) : e.action !== f.action) return false;
  }
  if (f.since !== undefined && Date.parse(e.at) < Date.parse(f.since)) return false;
  return true;
}

const HEADER = ['time (UTC)', 'actor', 'action', 'target', 'outcome', 'reason'];

function row(e: AuditEntryJson): string[] {
  return [formatTime(e.at), e.actor ?? '(system)', e.action, e.target ?? '-', e.outcome, e.reason ?? ''];
}

/** A line of --follow: fixed columns, so that lines printed one at a time still align. */
function line(e: AuditEntryJson): string {
  const [at, actor, action, target, outcome, reason] = row(e) as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  return `${at}  ${actor.padEnd(16)}  ${action.padEnd(20)}  ${target.padEnd(20)}  ${outcome.padEnd(7)}  ${reason}`.trimEnd();
}

export function registerAudit(program: Command): void {
  program
    .command('audit')
    .description('the audit log of the appliance, newest first (--follow: then new entries as they happen)')
    .option('--limit <n>', 'at most this many entries (default: 100; 20 with --follow)')
    .option('--actor <user>', 'only what this user did')
    .option('--action <action>', 'only this action, or a prefix ending in "." (user.)')
    .option('--since <time>', 'only entries since this ISO time, or this long ago (12h, 7d)')
    .option('--follow', 'keep printing new entries until interrupted (Ctrl-C)')
    .action(async (o: AuditOptions, cmd: Command) => {
      const opts = globals(cmd);
      const limit = o.limit === undefined ? (o.follow ? 20 : 100) : positive('--limit', o.limit);
      const since = o.since === undefined ? undefined : parseSince(o.since);
      const filter = {
        ...(o.actor !== undefined && { actor: o.actor }),
        ...(o.action !== undefined && { action: o.action }),
        ...(since !== undefined && { since }),
      };
      const s = session();
      const entries = await s.client.list<AuditEntryJson>('/audit', filter, limit);
      if (!o.follow) {
        if (opts.json) return printJson(entries);
        if (entries.length === 0) return print('no audit entries');
        printTable(HEADER, entries.map(row));
        return;
      }
      // Follow: the latest entries oldest first, then each new one as a line (--json: one JSON object a line).
      const show = (e: AuditEntryJson) =>
        opts.json ? process.stdout.write(`${JSON.stringify(e)}\n`) : print(line(e));
      const newest = entries.reduce((m, e) => Math.max(m, e.id), 0);
      for (const e of [...entries].reverse()) show(e);
      const controller = new AbortController();
      const stop = () => controller.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        await followEvents(s.client, '/events', {
          signal: controller.signal,
          onEvent: (event) => {
            if (event.event !== 'audit') return;
            let entry: AuditEntryJson;
            try {
              entry = JSON.parse(event.data) as AuditEntryJson;
            } catch {
              process.stderr.write(`warning: an audit event that is not JSON (id ${event.id ?? '?'})\n`);
              return;
            }
            if (typeof entry?.id === 'number' && entry.id <= newest) return; // listed already
            if (matches(entry, filter)) show(entry);
          },
          onReconnect: (delayMs, reason) => {
            if (!opts.quiet)
              process.stderr.write(
                `connection to ${s.server} lost (${reason}); reconnecting in ${Math.round(delayMs / 100) / 10} s\n`,
              );
          },
        });
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    });
}
