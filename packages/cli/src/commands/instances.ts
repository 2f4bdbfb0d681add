/** `lifeboat instance list|refresh`: the inventory of the appliance's accounts (/instances, /inventory/refresh). */
import type { Command } from 'commander';
import { ApplianceError } from '../appliance/errors.js';
import { session } from '../appliance/session.js';
import { formatTags, printTable, relativeTime } from '../appliance/table.js';
import { globals, print, printJson } from '../context.js';
import { UsageError } from '../errors.js';
import type { AccountJson } from './accounts.js';
import { followSession, type SessionJson } from './sessions.js';
import { positive } from './users.js';

export interface InstanceJson {
  account: string;
  awsAccountId: string;
  region: string;
  instanceId: string;
  name: string | null;
  state: string;
  instanceType: string;
  availabilityZone: string | null;
  vpcId: string | null;
  subnetId: string | null;
  launchedAt: string | null;
  tags: Record<string, string>;
  volumes: Array<{
    volumeId: string;
    device: string | null;
    sizeGiB: number;
    type: string | null;
    encrypted: boolean;
    kmsKeyId: string | null;
  }>;
  firstSeenAt: string;
  lastSeenAt: string;
  goneAt: string | null;
}

interface ListOptions {
  account?: string;
  region?: string;
  tag?: string[];
  state?: string;
  limit?: string;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function registerInstances(program: Command): void {
  const instance = program
    .command('instance')
    .description('the instances of the appliance’s accounts (inventory)');

  instance
    .command('list')
    .description(
      'instances with their volumes; failed refreshes of an account × region are reported after them',
    )
    .option('--account <name>', 'only this account')
    .option('--region <region>', 'only this region')
    .option('--tag <key=value>', 'only instances with this tag (repeatable: all of them)', collect)
    .option('--state <state>', 'only this state (running, stopped, gone, ...)')
    .option('--limit <n>', 'at most this many')
    .action(async (o: ListOptions, cmd: Command) => {
      const opts = globals(cmd);
      for (const t of o.tag ?? [])
        if (t.indexOf('=') <= 0) throw new UsageError(`--tag ${t}: expected KEY=VALUE`);
      const limit = o.limit === undefined ? undefined : positive('--limit', o.limit);
      const { client } = session();
      const query = new URLSearchParams();
      for (const t of o.tag ?? []) query.append('tag', t);
      const items = await listAll(client, o, query, limit);
      const failures = await refreshFailures(client, o);
      if (opts.json) return printJson(items);
      if (items.length === 0) print('no instances');
      else
        printTable(
          ['account', 'region', 'instance', 'name', 'state', 'type', 'zone', 'vpc', 'volumes', 'tags'],
          items.map((i) => [
            i.account,
            i.region,
            i.instanceId,
            i.name ?? '-',
            i.goneAt ? `gone ${relativeTime(i.goneAt)}` : i.state,
            i.instanceType,
            i.availabilityZone ?? '-',
            i.vpcId ?? '-',
            i.volumes.length
              ? i.volumes
                  .map((v) => `${v.device ?? '?'}:${v.sizeGiB}G${v.encrypted ? '(enc)' : ''}`)
                  .join(' ')
              : '-',
            formatTags(i.tags),
          ]),
        );
      for (const f of failures) process.stderr.write(`warning: ${f}\n`);
    });

  instance
    .command('refresh')
    .description(
      'start an inventory refresh session: one task per account × region (all accounts, or --account / --region)',
    )
    .option('--account <name>', 'only this account')
    .option('--region <region>', 'only this region')
    .option(
      '--wait',
      'follow the session like `session show --follow`, then print each account × region (exit 0 succeeded, 7 warning, 8 failed)',
    )
    .action(async (o: { account?: string; region?: string; wait?: boolean }, cmd: Command) => {
      const opts = globals(cmd);
      const body = {
        ...(o.account && { account: o.account }),
        ...(o.region && { region: o.region }),
      };
      const { client } = session();
      const started = (await client.post<SessionJson>('/inventory/refresh', body)).body;
      if (!o.wait) {
        if (opts.json) return printJson(started);
        print(
          `inventory refresh started: session ${started.id} (${started.tasks?.length ?? 0} account × region)`,
        );
        print(`follow it: lifeboat session show --follow ${started.id}`);
        return;
      }
      if (!opts.json) print(`inventory refresh: session ${started.id}`);
      const ended = await followSession(client, started, { json: opts.json, quiet: opts.quiet });
      if (opts.json || !ended.tasks?.length) return;
      print();
      printTable(
        ['account', 'region', 'result'],
        [...ended.tasks]
          .sort(
            (x, y) =>
              (x.account ?? '').localeCompare(y.account ?? '') ||
              (x.region ?? '').localeCompare(y.region ?? ''),
          )
          .map((t) => {
            const r = (t.result ?? {}) as { instances?: number; gone?: number };
            const result =
              t.state === 'succeeded' || t.state === 'warning'
                ? `${r.instances ?? 0} instances${r.gone ? `, ${r.gone} gone` : ''}`
                : `${t.state.toUpperCase()}: ${t.error ? `${t.error.code}: ${t.error.message}` : '-'}`;
            return [t.account ?? '-', t.region ?? '-', result];
          }),
      );
    });
}

async function listAll(
  client: ReturnType<typeof session>['client'],
  o: ListOptions,
  tags: URLSearchParams,
  limit: number | undefined,
): Promise<InstanceJson[]> {
  // The query is built here: repeated `tag` parameters do not fit the client's query object.
  const out: InstanceJson[] = [];
  let cursor: string | undefined;
  for (;;) {
    const q = new URLSearchParams(tags);
    for (const [k, v] of Object.entries({ account: o.account, region: o.region, state: o.state, cursor }))
      if (v) q.set(k, v);
    q.set('limit', String(limit === undefined ? 500 : Math.min(500, limit - out.length)));
    const page = (await client.get<{ items: InstanceJson[]; nextCursor: string | null }>(`/instances?${q}`))
      .body;
    out.push(...page.items);
    if (limit !== undefined && out.length >= limit) return out.slice(0, limit);
    if (!page.nextCursor || page.items.length === 0) return out;
    cursor = page.nextCursor;
  }
}

/** The account × region refreshes whose last attempt failed (only for those who may read accounts). */
async function refreshFailures(
  client: ReturnType<typeof session>['client'],
  o: ListOptions,
): Promise<string[]> {
  let accounts: AccountJson[];
  try {
    accounts = await client.list<AccountJson>('/accounts');
  } catch (err) {
    if (err instanceof ApplianceError && err.status === 403) return [];
    throw err;
  }
  const out: string[] = [];
  for (const a of accounts) {
    if (o.account !== undefined && a.name !== o.account) continue;
    for (const s of a.inventory) {
      if (!s.error || (o.region !== undefined && s.region !== o.region)) continue;
      const since = s.refreshedAt ? `data from ${relativeTime(s.refreshedAt)}` : 'never read';
      out.push(`account ${a.name} region ${s.region}: the last refresh failed (${since}): ${s.error}`);
    }
  }
  return out;
}
