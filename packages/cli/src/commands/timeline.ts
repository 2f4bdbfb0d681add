/**
 * `lifeboat timeline`, `hold`, `release`, `rescan`, `janitor` and `session calls`: the appliance's restore points
 * of cloud-native snapshots (issue 17, /restore-points, /rescan, /janitor, /sessions/{id}/aws-calls). Not to be
 * confused with the offline `lifeboat points`, which lists a repository's restore points.
 */
import type { Command } from 'commander';
import { session } from '../appliance/session.js';
import { formatTime, printTable } from '../appliance/table.js';
import { globals, print, printJson } from '../context.js';
import { needsAppliance, startedSession } from './policies.js';
import type { SessionJson } from './sessions.js';
import { positive } from './users.js';

interface PointSnapshotJson {
  snapshotId: string;
  role: 'source' | 'replica';
  account: string;
  awsAccountId: string;
  region: string;
  device: string;
  sizeGiB: number;
  encrypted: boolean;
  kmsKeyId: string | null;
  state: string;
  sealed: boolean;
  target: string | null;
  sourceSnapshotId: string | null;
}

export interface RestorePointJson {
  id: string;
  createdAt: string;
  state: string;
  policy: string | null;
  policyId: string | null;
  orphaned: boolean;
  account: string | null;
  awsAccountId: string;
  region: string;
  instanceId: string;
  instanceName: string | null;
  sessionId: string | null;
  volumes: PointSnapshotJson[];
  replicas: PointSnapshotJson[];
  holds: Array<{ id: string; kind: string; reason: string; createdBy: string | null; createdAt: string }>;
  hasConfiguration: boolean;
}

interface AwsCallsJson {
  sessionId: string;
  total: number;
  calls: Array<{ api: string; region: string; count: number }>;
}

const pointPath = (id: string) => `/restore-points/${encodeURIComponent(id)}`;

function holdState(p: RestorePointJson): string {
  if (!p.holds.length) return '-';
  return `held: ${p.holds.map((h) => `${h.kind} "${h.reason}"${h.createdBy ? ` by ${h.createdBy}` : ''}`).join('; ')}`;
}

const snapState = (s: PointSnapshotJson) => (s.state === 'completed' ? '' : ` (${s.state})`);

/** A point per line, then its volumes and replicas indented under it. */
function printTimeline(points: RestorePointJson[]): void {
  const rows = points.map((p) => [
    `${formatTime(p.createdAt)}`,
    p.policy ? `${p.policy}${p.orphaned ? ' (removed)' : ''}` : '-',
    `${p.instanceId}${p.instanceName ? ` (${p.instanceName})` : ''}`,
    `${p.account ?? p.awsAccountId}/${p.region}`,
    p.state,
    p.id,
    holdState(p),
  ]);
  const header = ['time (UTC)', 'policy', 'instance', 'account/region', 'state', 'point', 'hold'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  print(line(header));
  points.forEach((p, i) => {
    print(line(rows[i]!));
    for (const v of p.volumes) {
      print(
        `    volume   ${v.device.padEnd(10)} ${`${v.sizeGiB} GiB`.padStart(9)}  ${v.snapshotId}${snapState(v)}`,
      );
    }
    for (const r of p.replicas) {
      print(
        `    replica  ${r.device.padEnd(10)} ${`${r.account}/${r.region}`}  ${r.snapshotId}${snapState(r)}`,
      );
    }
  });
}

export function registerTimeline(program: Command): void {
  needsAppliance(
    program
      .command('timeline')
      .description(
        'restore points (cloud-native snapshot sets) newest first: time, policy, instance, state, volumes, replicas, ' +
          'holds. The offline `lifeboat points` lists a repository’s restore points instead',
      )
      .option('--instance <id>', 'only this instance')
      .option('--policy <name>', 'only this policy')
      .option('--account <name>', 'only this account')
      .option('--region <region>', 'only this region')
      .option('--orphaned', 'only points whose policy was removed')
      .option('--all', 'include deleted points')
      .option('--limit <n>', 'at most this many (default 100)'),
  ).action(
    async (
      o: {
        instance?: string;
        policy?: string;
        account?: string;
        region?: string;
        orphaned?: boolean;
        all?: boolean;
        limit?: string;
      },
      cmd: Command,
    ) => {
      const opts = globals(cmd);
      const limit = o.limit === undefined ? 100 : positive('--limit', o.limit);
      const points = await session().client.list<RestorePointJson>(
        '/restore-points',
        {
          instance: o.instance,
          policy: o.policy,
          account: o.account,
          region: o.region,
          orphaned: o.orphaned ? 'true' : undefined,
          all: o.all ? 'true' : undefined,
        },
        limit,
      );
      if (opts.json) return printJson(points);
      if (points.length === 0) return print('no restore points');
      printTimeline(points);
    },
  );

  needsAppliance(
    program
      .command('hold')
      .description('hold a restore point: retention keeps it (and says why) until `lifeboat release`')
      .argument('<point>', 'the restore point id (lifeboat timeline)')
      .requiredOption('--reason <text>', 'why it is kept'),
  ).action(async (id: string, o: { reason: string }, cmd: Command) => {
    const opts = globals(cmd);
    const p = (await session().client.post<RestorePointJson>(`${pointPath(id)}/hold`, { reason: o.reason }))
      .body;
    if (opts.json) return printJson(p);
    print(`restore point ${p.id} (${p.instanceId}, ${formatTime(p.createdAt)} UTC) ${holdState(p)}`);
  });

  needsAppliance(
    program
      .command('release')
      .description("remove a restore point's manual holds (those of running restores and backups stay)")
      .argument('<point>', 'the restore point id'),
  ).action(async (id: string, _o, cmd: Command) => {
    const opts = globals(cmd);
    const p = (await session().client.delete<RestorePointJson>(`${pointPath(id)}/hold`)).body;
    if (opts.json) return printJson(p);
    print(`restore point ${p.id} released${p.holds.length ? `; still ${holdState(p)}` : ''}`);
  });

  for (const [name, description] of [
    [
      'rescan',
      "rebuild the restore points, configuration included, from the snapshots' seals (after a catalog loss, or on a new appliance given the old one's recovery phrase)",
    ],
    ['janitor', 'find leftovers of interrupted sessions by their session tags and apply retention to them'],
  ] as const) {
    needsAppliance(
      program
        .command(name)
        .description(`${description}: a session`)
        .option('--account <name>', 'only this account')
        .option('--region <region>', 'only this region')
        .option(
          '--wait',
          'follow the session like `session show --follow` (exit 0 succeeded, 7 warning, 8 failed or cancelled)',
        ),
    ).action(async (o: { account?: string; region?: string; wait?: boolean }, cmd: Command) => {
      const opts = globals(cmd);
      const { client } = session();
      const body = { ...(o.account && { account: o.account }), ...(o.region && { region: o.region }) };
      const started = (await client.post<SessionJson>(`/${name}`, body)).body;
      await startedSession(client, started, name, { wait: o.wait, json: opts.json, quiet: opts.quiet });
    });
  }
}

/** `lifeboat session calls ID`, added to the `session` command. */
export function registerSessionCalls(program: Command): void {
  const sessionCmd = program.commands.find((c) => c.name() === 'session');
  if (!sessionCmd) throw new Error('registerSessionCalls: register the session command first');
  needsAppliance(
    sessionCmd
      .command('calls')
      .description('the AWS calls a session made, by API and region (the start of the cost history)')
      .argument('<id>'),
  ).action(async (id: string, _o, cmd: Command) => {
    const opts = globals(cmd);
    const r = (await session().client.get<AwsCallsJson>(`/sessions/${encodeURIComponent(id)}/aws-calls`))
      .body;
    if (opts.json) return printJson(r);
    if (r.calls.length === 0) return print(`session ${r.sessionId} made no AWS calls`);
    printTable(
      ['api', 'region', 'calls'],
      [...r.calls]
        .sort((a, b) => a.api.localeCompare(b.api) || a.region.localeCompare(b.region))
        .map((c) => [c.api, c.region, String(c.count)]),
    );
    print(`${r.total} call${r.total === 1 ? '' : 's'} in all`);
  });
}
