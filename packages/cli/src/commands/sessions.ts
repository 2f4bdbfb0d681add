/**
 * `lifeboat session list|show|log|cancel`: the job engine's sessions (docs/api.md, /sessions), with live progress
 * over the event stream. `show --follow` and `cancel --wait` end with the session's outcome as exit code: 0
 * succeeded, 7 warning, 8 failed or cancelled.
 */
import type { Command } from 'commander';
import type { ApplianceClient } from '../appliance/client.js';
import { session } from '../appliance/session.js';
import { followEvents } from '../appliance/sse.js';
import { formatTime, printTable, relativeTime } from '../appliance/table.js';
import { globals, print, printJson } from '../context.js';
import { UsageError } from '../errors.js';
import { positive } from './users.js';

export const SESSION_EXIT = { succeeded: 0, warning: 7, failed: 8, cancelled: 8 } as const;
const STATES = ['queued', 'running', 'succeeded', 'warning', 'failed', 'cancelled'];
const ENDED = new Set(['succeeded', 'warning', 'failed', 'cancelled']);

export interface TaskJson {
  id: string;
  seq: number;
  kind: string;
  resource: string | null;
  account: string | null;
  region: string | null;
  state: string;
  attempts: number;
  progress: number;
  note: string | null;
  startedAt: string | null;
  endedAt: string | null;
  error: { code: string; message: string } | null;
  result?: unknown;
}

export interface SessionJson {
  id: string;
  kind: string;
  name: string;
  state: string;
  createdBy: string | null;
  createdAt: string;
  startedAt: string | null;
  endedAt: string | null;
  progress: number;
  counts: Record<string, number>;
  summary: Record<string, unknown> | null;
  cancelRequested: boolean;
  tasks?: TaskJson[];
}

interface LogLineJson {
  id: number;
  taskId: string | null;
  at: string;
  level: string;
  message: string;
}

const sessionPath = (id: string) => `/sessions/${encodeURIComponent(id)}`;
const percent = (p: number) => `${Math.round(p * 100)}%`;

function counts(s: SessionJson): string {
  return (
    Object.entries(s.counts)
      .filter(([, n]) => n > 0)
      .map(([state, n]) => `${n} ${state}`)
      .join(', ') || 'no tasks'
  );
}

function exitFor(state: string): number {
  return SESSION_EXIT[state as keyof typeof SESSION_EXIT] ?? 1;
}

export function registerSessions(program: Command): void {
  const cmd = program.command('session').description("the job engine's sessions: runs made of tasks");

  cmd
    .command('list')
    .description('sessions, newest first')
    .option('--state <state>', `only sessions in this state (${STATES.join(', ')})`)
    .option('--kind <kind>', 'only sessions of this kind')
    .option('--limit <n>', 'at most this many (default 50)')
    .action(async (o: { state?: string; kind?: string; limit?: string }, c: Command) => {
      const opts = globals(c);
      if (o.state !== undefined && !STATES.includes(o.state)) {
        throw new UsageError(`--state ${o.state}: expected one of ${STATES.join(', ')}`);
      }
      const limit = o.limit === undefined ? 50 : positive('--limit', o.limit);
      const items = await session().client.list<SessionJson>(
        '/sessions',
        { state: o.state, kind: o.kind },
        limit,
      );
      if (opts.json) return printJson(items);
      if (items.length === 0) return print('no sessions');
      printTable(
        ['id', 'kind', 'name', 'state', 'progress', 'tasks', 'created'],
        items.map((s) => [
          s.id,
          s.kind,
          s.name,
          s.state,
          percent(s.progress),
          counts(s),
          relativeTime(s.createdAt),
        ]),
      );
    });

  cmd
    .command('show')
    .description('one session and its tasks (--follow: live until it ends, exit 0/7/8 by its outcome)')
    .argument('<id>')
    .option('--follow', 'print progress as it happens until the session ends')
    .action(async (id: string, o: { follow?: boolean }, c: Command) => {
      const opts = globals(c);
      const { client } = session();
      const s = (await client.get<SessionJson>(sessionPath(id))).body;
      if (!o.follow) {
        if (opts.json) return printJson(s);
        return showSession(s);
      }
      await followSession(client, s, { json: opts.json, quiet: opts.quiet });
    });

  cmd
    .command('log')
    .description("a session's log lines, oldest first (--follow: until the session ends)")
    .argument('<id>')
    .option('--task <id>', "only this task's lines")
    .option('--follow', 'keep printing new lines until the session ends')
    .action(async (id: string, o: { task?: string; follow?: boolean }, c: Command) => {
      const opts = globals(c);
      const { client } = session();
      let after = 0;
      const show = (l: LogLineJson) => {
        after = Math.max(after, l.id);
        if (opts.json) process.stdout.write(`${JSON.stringify(l)}\n`);
        else
          print(
            `${formatTime(l.at)}  ${l.level.padEnd(5)}  ${l.taskId ? l.taskId.slice(0, 8) : 'session '}  ${l.message}`,
          );
      };
      const fetchNew = async () => {
        for (;;) {
          const page = await client.get<{ items: LogLineJson[] }>(`${sessionPath(id)}/log`, {
            query: { after, task: o.task, limit: 500 },
          });
          page.body.items.forEach(show);
          if (page.body.items.length < 500) return;
        }
      };
      if (!o.follow) {
        if (opts.json) {
          const lines = await client.list<LogLineJson>(`${sessionPath(id)}/log`, { task: o.task });
          return printJson(lines);
        }
        return fetchNew();
      }
      await fetchNew();
      const s = (await client.get<SessionJson>(sessionPath(id))).body;
      let busy = Promise.resolve();
      const ended = await follow(
        client,
        s,
        () => {
          busy = busy.then(fetchNew).catch(() => {});
        },
        true,
      );
      await busy;
      await fetchNew();
      process.exitCode = exitFor(ended.state);
    });

  cmd
    .command('cancel')
    .description('cancel a session: queued tasks cancelled, running ones stopped (--wait: until it ended)')
    .argument('<id>')
    .option('--wait', 'wait until it ended (exit 0/7/8 by its outcome)')
    .action(async (id: string, o: { wait?: boolean }, c: Command) => {
      const opts = globals(c);
      const { client } = session();
      const s = (await client.post<SessionJson>(`${sessionPath(id)}/cancel`)).body;
      if (!o.wait) {
        if (opts.json) return printJson(s);
        print(
          ENDED.has(s.state) ? `session ${s.id} ended already: ${s.state}` : `session ${s.id}: cancel asked`,
        );
        return;
      }
      const ended = await follow(client, s, () => {}, true);
      if (opts.json) printJson(ended);
      else print(`session ${ended.id} ${ended.state} (${counts(ended)})`);
      process.exitCode = exitFor(ended.state);
    });
}

/**
 * `session show --follow` (and `instance refresh --wait`): shows the session, prints its progress until it ended,
 * then its outcome (the session as JSON with `json`); the exit code is 0 succeeded, 7 warning, 8 failed or
 * cancelled. Returns the ended session, with its tasks.
 */
export async function followSession(
  client: ApplianceClient,
  s: SessionJson,
  opts: { json?: boolean; quiet?: boolean },
): Promise<SessionJson> {
  if (!opts.json) showSession(s);
  const ended = await follow(client, s, opts.json ? printEventJson : printEvent, opts.quiet);
  if (opts.json) printJson(ended);
  else print(`session ${ended.id} ${ended.state} (${counts(ended)})`);
  process.exitCode = exitFor(ended.state);
  return ended;
}

interface ProgressEvent {
  sessionId: string;
  taskId?: string;
  state: string;
  progress: number;
}

function printEvent(e: ProgressEvent): void {
  if (e.taskId) print(`task ${e.taskId.slice(0, 8)}  ${e.state}  ${percent(e.progress)}`);
  else print(`session  ${e.state}  ${percent(e.progress)}`);
}

function printEventJson(e: ProgressEvent): void {
  process.stdout.write(`${JSON.stringify(e)}\n`);
}

/**
 * Follows a session's `session.progress` events until it ended; a GET every few seconds too, so that an event
 * missed between the first read and the stream's start (or while reconnecting) cannot hang it. Ctrl-C stops.
 */
async function follow(
  client: ApplianceClient,
  first: SessionJson,
  onEvent: (e: ProgressEvent) => void,
  quiet = false,
): Promise<SessionJson> {
  if (ENDED.has(first.state)) return first;
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let result: SessionJson | undefined;
  const check = async () => {
    const s = (await client.get<SessionJson>(sessionPath(first.id))).body;
    if (ENDED.has(s.state)) {
      result = s;
      controller.abort();
    }
  };
  const poll = setInterval(() => void check().catch(() => {}), 2000);
  try {
    const streaming = followEvents(client, '/events', {
      signal: controller.signal,
      onEvent: (event) => {
        if (event.event !== 'session.progress') return;
        let e: ProgressEvent;
        try {
          e = JSON.parse(event.data) as ProgressEvent;
        } catch {
          return;
        }
        if (e.sessionId !== first.id) return;
        onEvent(e);
        if (!e.taskId && ENDED.has(e.state)) void check().catch(() => {});
      },
      onReconnect: (delayMs, reason) => {
        if (!quiet)
          process.stderr.write(
            `event stream lost (${reason}); reconnecting in ${Math.round(delayMs / 100) / 10} s\n`,
          );
      },
    });
    // The session may have ended before the stream opened.
    await check();
    await streaming;
  } finally {
    clearInterval(poll);
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
  if (!result) throw new UsageError('interrupted before the session ended');
  return result;
}

function showSession(s: SessionJson): void {
  const rows: Array<[string, string]> = [
    ['id', s.id],
    ['kind', s.kind],
    ['name', s.name],
    ['state', s.cancelRequested && !ENDED.has(s.state) ? `${s.state} (cancelling)` : s.state],
    ['progress', percent(s.progress)],
    ['tasks', counts(s)],
    ['created', `${formatTime(s.createdAt)} UTC by ${s.createdBy ?? '(the appliance)'}`],
    ['started', s.startedAt ? `${formatTime(s.startedAt)} UTC` : '-'],
    ['ended', s.endedAt ? `${formatTime(s.endedAt)} UTC` : '-'],
  ];
  for (const [k, v] of rows) print(`${`${k}:`.padEnd(10)}${v}`);
  if (!s.tasks?.length) return;
  print();
  printTable(
    ['#', 'task', 'resource', 'account/region', 'state', 'progress', 'tries', 'error / note'],
    s.tasks.map((t) => [
      String(t.seq),
      t.id.slice(0, 8),
      t.resource ?? '-',
      t.account || t.region ? `${t.account ?? '-'}/${t.region ?? '-'}` : '-',
      t.state,
      percent(t.progress),
      String(t.attempts),
      t.error ? `${t.error.code}: ${t.error.message}` : (t.note ?? ''),
    ]),
  );
}
