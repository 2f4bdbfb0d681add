/**
 * `lifeboat policy create|apply|list|show|enable|disable|run|remove`: the appliance's backup policies (issue 17,
 * docs/api.md, /policies). A policy is a document given as YAML or JSON; the appliance validates it and names
 * every wrong field, which these commands print one per line (exit 2).
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { ApplianceClient } from '../appliance/client.js';
import { APPLIANCE_EXIT, ApplianceError } from '../appliance/errors.js';
import { confirm, interactive } from '../appliance/prompt.js';
import { session } from '../appliance/session.js';
import { formatTime, printTable, relativeTime } from '../appliance/table.js';
import { globals, print, printJson } from '../context.js';
import { UsageError } from '../errors.js';
import { followSession, type SessionJson } from './sessions.js';

export interface PolicyJson {
  id: string;
  name: string;
  document: Record<string, unknown>;
  enabled: boolean;
  version: number;
  createdAt: string;
  updatedAt: string;
  scheduleText: string | null;
  nextRunAt: string | null;
  lastSessionId: string | null;
  points: number;
}

export interface PolicyReportJson {
  action: 'create' | 'update' | 'unchanged';
  dryRun: boolean;
  policy: PolicyJson | null;
  changedFields: string[];
  selected: Array<{
    account: string;
    region: string;
    instanceId: string;
    name: string | null;
    state: string;
    devices: string[];
    excludedDevices: string[];
  }>;
  added: string[];
  removed: string[];
  wouldDelete: Array<{
    pointId: string;
    instanceId: string;
    snapshotId: string;
    region: string;
    account: string;
  }>;
  warnings: Array<{ code: string; message: string }>;
}

/** Appended to the --help of every appliance client command of issue 17. */
export const NEEDS_APPLIANCE =
  '\nNeeds the appliance: talks to `lifeboat server` ($LIFEBOAT_SERVER or the last `lifeboat login`).';

export const needsAppliance = (cmd: Command): Command => cmd.addHelpText('after', NEEDS_APPLIANCE);

const policyPath = (name: string) => `/policies/${encodeURIComponent(name)}`;
const SHOWN_SELECTED = 20;
const SHOWN_IDS = 10;

/** A policy document from a YAML or JSON file, or standard input for `-`. */
async function readDocument(file: string): Promise<Record<string, unknown>> {
  const where = file === '-' ? 'standard input' : file;
  let text: string;
  try {
    text = file === '-' ? await readStdin() : readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${where}: ${(err as Error).message}`);
  }
  // Loaded here: no other command needs a YAML parser. YAML 1.2 (JSON is YAML): `no` and `02:00` stay strings.
  const YAML = await import('yaml');
  const doc = YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  const first = doc.errors[0];
  if (first) {
    const at = first.linePos?.[0];
    const message = first.message.split('\n')[0]!.replace(/ at line \d+, column \d+:$/, '');
    throw new UsageError(
      `${where}${at ? ` line ${at.line} column ${at.col}` : ''}: not valid YAML or JSON: ${message}`,
    );
  }
  const value = doc.toJS() as unknown;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new UsageError(
      `${where}: the policy must be a map (name, resources, schedule, snapshots, replicas)`,
    );
  }
  return value as Record<string, unknown>;
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('the policy (YAML or JSON); end with Ctrl-D:\n');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The appliance's field errors of a document, one line each on stderr; then one `error:` line, exit 2. */
async function reportingFieldErrors<T>(file: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (!(err instanceof ApplianceError) || err.code !== 'VALIDATION_FAILED' || !err.errors?.length)
      throw err;
    for (const e of err.errors)
      process.stderr.write(`  ${e.path || '(policy)'}: ${e.message ?? 'is not valid'}\n`);
    const n = err.errors.length;
    throw new ApplianceError(
      `the policy in ${file === '-' ? 'standard input' : file} is not valid: ${n} problem${n === 1 ? '' : 's'} (above)`,
      {
        code: 'VALIDATION_FAILED',
        exitCode: APPLIANCE_EXIT.usage,
        status: err.status ?? 400,
        errors: err.errors,
      },
    );
  }
}

function printReport(r: PolicyReportJson, name: string): void {
  const done = r.dryRun ? '(dry run: nothing changed)' : '';
  const what = {
    create: r.dryRun ? 'would be created' : 'created',
    update: r.dryRun ? 'would be updated' : 'updated',
    unchanged: 'unchanged',
  }[r.action];
  print(`policy ${r.policy?.name ?? name}: ${what} ${done}`.trimEnd());
  if (r.changedFields.length) print(`changed: ${r.changedFields.join(', ')}`);
  const some = (ids: string[]) =>
    ids.length > SHOWN_IDS
      ? `${ids.slice(0, SHOWN_IDS).join(', ')}, ... ${ids.length - SHOWN_IDS} more`
      : ids.join(', ');
  const diff = [
    r.added.length ? `${r.added.length} added (${some(r.added)})` : '',
    r.removed.length ? `${r.removed.length} removed (${some(r.removed)})` : '',
  ].filter(Boolean);
  print(
    `selects ${r.selected.length} instance${r.selected.length === 1 ? '' : 's'}${diff.length ? `: ${diff.join(', ')}` : ''}`,
  );
  if (r.selected.length) {
    printTable(
      ['  account', 'region', 'instance', 'name', 'state', 'devices'],
      r.selected
        .slice(0, SHOWN_SELECTED)
        .map((i) => [
          `  ${i.account}`,
          i.region,
          i.instanceId,
          i.name ?? '-',
          i.state,
          [...i.devices, ...i.excludedDevices.map((d) => `${d}(excluded)`)].join(' ') || '-',
        ]),
    );
    if (r.selected.length > SHOWN_SELECTED)
      print(`  ... and ${r.selected.length - SHOWN_SELECTED} more (--json lists them all)`);
  }
  if (r.wouldDelete.length) {
    print(
      `retention would delete ${r.wouldDelete.length} snapshot${r.wouldDelete.length === 1 ? '' : 's'} at the next run:`,
    );
    printTable(
      ['  snapshot', 'account/region', 'instance', 'restore point'],
      r.wouldDelete.map((d) => [`  ${d.snapshotId}`, `${d.account}/${d.region}`, d.instanceId, d.pointId]),
    );
  }
  if (r.policy && !r.dryRun) {
    print(
      `schedule: ${r.policy.scheduleText ?? 'none (runs only with `lifeboat policy run`)'}${
        r.policy.nextRunAt ? `; next run ${formatTime(r.policy.nextRunAt)} UTC` : ''
      }`,
    );
  }
  for (const w of r.warnings) process.stderr.write(`warning: ${w.message} [${w.code}]\n`);
}

function showPolicy(p: PolicyJson, documentYaml: string): void {
  const rows: Array<[string, string]> = [
    ['name', p.name],
    ['enabled', p.enabled ? 'yes' : 'no (no scheduled runs)'],
    ['schedule', p.scheduleText ?? 'none (runs only with `lifeboat policy run`)'],
    ['next run', p.nextRunAt ? `${formatTime(p.nextRunAt)} UTC (${relativeTime(p.nextRunAt)})` : '-'],
    ['last session', p.lastSessionId ?? '-'],
    ['restore points', String(p.points)],
    ['created', `${formatTime(p.createdAt)} UTC`],
    ['updated', `${formatTime(p.updatedAt)} UTC (${relativeTime(p.updatedAt)})`],
    ['version', String(p.version)],
  ];
  for (const [k, v] of rows) print(`${`${k}:`.padEnd(16)}${v}`);
  print('document:');
  for (const line of documentYaml.trimEnd().split('\n')) print(`  ${line}`);
}

/** A session's tasks after `--wait`: one row each (an instance, an account × region, ...) with its result. */
export function printTasks(ended: SessionJson): void {
  if (!ended.tasks?.length) return;
  print();
  printTable(
    ['task', 'account/region', 'state', 'result'],
    ended.tasks.map((t) => [
      t.resource ?? t.kind,
      t.account || t.region ? `${t.account ?? '-'}/${t.region ?? '-'}` : '-',
      t.state,
      t.error
        ? `${t.error.code}: ${t.error.message}`
        : (isMap(t.result) && compact(t.result)) || (t.note ?? ''),
    ]),
  );
}

const isMap = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isScalar = (v: unknown) => v === null || ['string', 'number', 'boolean'].includes(typeof v);

/** A task's result on one line: scalars as k=v, lists as their length, maps one level down. */
function compact(result: Record<string, unknown>, prefix = ''): string {
  return Object.entries(result)
    .map(([k, v]) =>
      isScalar(v)
        ? `${prefix}${k}=${String(v)}`
        : Array.isArray(v)
          ? `${prefix}${k}=${v.length}`
          : isMap(v) && !prefix
            ? compact(v, `${k}.`)
            : '',
    )
    .filter(Boolean)
    .join(' ');
}

/** Follows a started session (`--wait`), exit 0 / 7 warning / 8 failed or cancelled, or says how to follow it. */
export async function startedSession(
  client: ApplianceClient,
  started: SessionJson,
  what: string,
  o: { wait?: boolean; json?: boolean; quiet?: boolean },
): Promise<void> {
  if (!o.wait) {
    if (o.json) return printJson(started);
    print(`${what} started: session ${started.id} (${started.tasks?.length ?? 0} tasks)`);
    print(`follow it: lifeboat session show --follow ${started.id}`);
    return;
  }
  if (!o.json) print(`${what}: session ${started.id}`);
  const ended = await followSession(client, started, { json: o.json, quiet: o.quiet });
  if (!o.json) printTasks(ended);
}

export function registerPolicies(program: Command): void {
  const policy = needsAppliance(
    program
      .command('policy')
      .description(
        'backup policies: what to snapshot (accounts, regions, ids, tags), when, how long, where replicas go',
      ),
  );

  for (const [verb, description] of [
    ['create', 'create a policy from a YAML or JSON file (refused when the name exists; see `policy apply`)'],
    ['apply', 'create or update a policy from a YAML or JSON file (the name inside the file says which)'],
  ] as const) {
    needsAppliance(
      policy
        .command(verb)
        .description(
          `${description}; prints what changes: fields, selected instances, snapshots a lowered retention would delete`,
        )
        .requiredOption('--file <file>', 'the policy document: YAML or JSON, `-` for standard input')
        .option('--dry-run', 'validate and show what would change; change nothing'),
    ).action(async (o: { file: string; dryRun?: boolean }, cmd: Command) => {
      const opts = globals(cmd);
      const document = await readDocument(o.file);
      const { client } = session();
      const query = o.dryRun ? { dryRun: 'true' } : {};
      const name = typeof document.name === 'string' && document.name ? document.name : undefined;
      const report = await reportingFieldErrors(o.file, async () =>
        verb === 'create' || name === undefined
          ? // Without a name, POST (dry run for apply) is what names every wrong field, the name included.
            (
              await client.post<PolicyReportJson>('/policies', document, {
                query: verb === 'create' ? query : { dryRun: 'true' },
              })
            ).body
          : (await client.put<PolicyReportJson>(policyPath(name), document, { query })).body,
      );
      if (verb === 'apply' && name === undefined) throw new UsageError(`${o.file}: the policy has no name`);
      if (opts.json) return printJson(report);
      printReport(report, name ?? '?');
    });
  }

  needsAppliance(
    policy.command('list').description('policies by name: enabled, schedule, next run, restore points'),
  ).action(async (_o, cmd: Command) => {
    const opts = globals(cmd);
    const items = await session().client.list<PolicyJson>('/policies');
    if (opts.json) return printJson(items);
    if (items.length === 0) return print('no policies (lifeboat policy create --file F)');
    printTable(
      ['name', 'enabled', 'schedule', 'next run', 'points', 'last session'],
      items.map((p) => [
        p.name,
        p.enabled ? 'yes' : 'no',
        p.scheduleText ?? '-',
        p.nextRunAt ? `${formatTime(p.nextRunAt)} (${relativeTime(p.nextRunAt)})` : '-',
        String(p.points),
        p.lastSessionId ?? '-',
      ]),
    );
  });

  needsAppliance(
    policy
      .command('show')
      .description('one policy and its document (--yaml: only the document, to edit and `policy apply`)')
      .argument('<name>')
      .option('--yaml', 'print the document as YAML'),
  ).action(async (name: string, o: { yaml?: boolean }, cmd: Command) => {
    const opts = globals(cmd);
    const p = (await session().client.get<PolicyJson>(policyPath(name))).body;
    if (opts.json && !o.yaml) return printJson(p);
    const YAML = await import('yaml');
    const yaml = YAML.stringify(p.document);
    if (o.yaml) return void process.stdout.write(yaml);
    showPolicy(p, yaml);
  });

  for (const [verb, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    needsAppliance(
      policy
        .command(verb)
        .description(
          enabled
            ? 'enable a policy: it runs on its schedule again'
            : 'disable a policy: no scheduled runs (`policy run` still works); its restore points stay',
        )
        .argument('<name>'),
    ).action(async (name: string, _o, cmd: Command) => {
      const opts = globals(cmd);
      const p = (await session().client.post<PolicyJson>(`${policyPath(name)}/${verb}`)).body;
      if (opts.json) return printJson(p);
      print(
        `policy ${p.name} ${enabled ? 'enabled' : 'disabled'}${
          p.nextRunAt ? `: next run ${formatTime(p.nextRunAt)} UTC (${relativeTime(p.nextRunAt)})` : ''
        }`,
      );
    });
  }

  needsAppliance(
    policy
      .command('run')
      .description(
        "run a policy now: a session with a task per instance (refused while the policy's last one runs)",
      )
      .argument('<name>')
      .option(
        '--wait',
        'follow the session like `session show --follow`, then print each task (exit 0 succeeded, 7 warning, 8 failed or cancelled)',
      ),
  ).action(async (name: string, o: { wait?: boolean }, cmd: Command) => {
    const opts = globals(cmd);
    const { client } = session();
    const started = (await client.post<SessionJson>(`${policyPath(name)}/run`)).body;
    await startedSession(client, started, `policy ${name}`, { ...o, json: opts.json, quiet: opts.quiet });
  });

  needsAppliance(
    policy
      .command('remove')
      .description(
        'remove a policy; its snapshots stay (listed as orphaned by `lifeboat timeline --orphaned`) unless --delete-snapshots',
      )
      .argument('<name>')
      .option('--delete-snapshots', "also delete the policy's snapshots (a session; asks unless --yes)")
      .option('--yes', 'do not ask'),
  ).action(async (name: string, o: { deleteSnapshots?: boolean; yes?: boolean }, cmd: Command) => {
    const opts = globals(cmd);
    const { client } = session();
    if (o.deleteSnapshots && !o.yes) {
      if (!interactive()) throw new UsageError('--delete-snapshots deletes snapshots for good: add --yes');
      const current = (await client.get<PolicyJson>(policyPath(name))).body;
      if (
        !(await confirm(
          `remove policy ${name} and delete its ${current.points} restore points' snapshots? [y/N] `,
        ))
      ) {
        throw new UsageError('not removed');
      }
    }
    const r = (
      await client.delete<{ sessionId: string | null }>(policyPath(name), {
        query: o.deleteSnapshots ? { deleteSnapshots: 'true' } : {},
      })
    ).body;
    if (opts.json) return printJson({ name, removed: true, sessionId: r.sessionId });
    print(`removed policy ${name}`);
    if (r.sessionId) {
      print(`deleting its snapshots: session ${r.sessionId}`);
      print(`follow it: lifeboat session show --follow ${r.sessionId}`);
    } else print('its snapshots stay: lifeboat timeline --orphaned');
  });
}
