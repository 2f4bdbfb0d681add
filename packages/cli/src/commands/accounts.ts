/**
 * `lifeboat account add|list|show|check|remove|external-id`: the AWS accounts the appliance protects
 * (docs/aws-accounts.md, /accounts). Access keys are read from standard input or a file, never from argv, sent
 * once to the appliance, and never printed.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { session } from '../appliance/session.js';
import { formatTime, printTable, relativeTime } from '../appliance/table.js';
import { globals, print, printJson } from '../context.js';
import { UsageError } from '../errors.js';

export interface RegionStatusJson {
  region: string;
  attemptedAt: string;
  refreshedAt: string | null;
  error: string | null;
  instances: number;
}

export interface AccountJson {
  id: string;
  name: string;
  kind: 'role' | 'keys';
  awsAccountId: string;
  principalArn: string;
  roleArn: string | null;
  externalId: string | null;
  accessKeyHint: string | null;
  regions: string[];
  lastCheck: { features: Array<{ feature: string; ok: boolean; missing: string[] }> } | null;
  checkedAt: string | null;
  version: number;
  createdAt: string;
  updatedAt: string;
  inventory: RegionStatusJson[];
}

interface AddOptions {
  roleArn?: string;
  externalId?: string;
  accessKeysFromStdin?: boolean;
  accessKeysFile?: string;
  region?: string[];
}

const accountPath = (name: string) => `/accounts/${encodeURIComponent(name)}`;

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(',').filter(Boolean)];
}

/**
 * Access keys as text: two lines (key id, secret), or JSON: `{"accessKeyId","secretAccessKey"}`, AWS's
 * `{"AccessKeyId","SecretAccessKey"}`, or `aws iam create-access-key`'s `{"AccessKey": {...}}`.
 */
export function parseAccessKeys(
  text: string,
  where: string,
): { accessKeyId: string; secretAccessKey: string } {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    let doc: Record<string, unknown>;
    try {
      doc = JSON.parse(trimmed) as Record<string, unknown>;
    } catch {
      throw new UsageError(`${where}: not valid JSON (give two lines, key id then secret, or a JSON object)`);
    }
    const inner = (doc.AccessKey as Record<string, unknown> | undefined) ?? doc;
    const id = inner.accessKeyId ?? inner.AccessKeyId;
    const secret = inner.secretAccessKey ?? inner.SecretAccessKey;
    if (typeof id !== 'string' || typeof secret !== 'string')
      throw new UsageError(`${where}: the JSON has no AccessKeyId and SecretAccessKey`);
    return { accessKeyId: id.trim(), secretAccessKey: secret.trim() };
  }
  const lines = trimmed
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
  if (lines.length !== 2)
    throw new UsageError(`${where}: expected two lines, the access key id then the secret access key`);
  return { accessKeyId: lines[0]!, secretAccessKey: lines[1]! };
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY)
    process.stderr.write('access key id, then secret access key, one per line; end with Ctrl-D:\n');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export function registerAccounts(program: Command): void {
  const account = program
    .command('account')
    .description('the AWS accounts the appliance protects (a role it assumes, or access keys)');

  account
    .command('external-id')
    .description('a new ExternalId and the role trust policy requiring it (step 1 of adding by role)')
    .action(async (_o, cmd: Command) => {
      const opts = globals(cmd);
      const offer = (
        await session().client.post<{
          externalId: string;
          applianceArn: string | null;
          trustPolicy: Record<string, unknown>;
        }>('/accounts/external-id', {})
      ).body;
      if (opts.json) return printJson(offer);
      print(`ExternalId: ${offer.externalId}`);
      print(`the appliance assumes roles as: ${offer.applianceArn ?? '(unknown: it has no AWS identity)'}`);
      print('trust policy for the role (then `lifeboat account add NAME --role-arn ARN --external-id ID`):');
      print(JSON.stringify(offer.trustPolicy, null, 2));
    });

  account
    .command('add')
    .description(
      'add an account: --role-arn (the appliance assumes it with an ExternalId it generates and shows), or ' +
        'access keys from standard input (--access-keys-from-stdin) or a file (--access-keys-file); never in argv',
    )
    .argument('<name>', 'the name policies use (a-z 0-9 . _ -)')
    .option('--role-arn <arn>', 'a role in the account for the appliance to assume')
    .option('--external-id <id>', 'the ExternalId from `lifeboat account external-id` (else a new one)')
    .option(
      '--access-keys-from-stdin',
      'read the access key id and secret from standard input (two lines or JSON)',
    )
    .option(
      '--access-keys-file <file>',
      'read the access key id and secret from this file (two lines or JSON)',
    )
    .option(
      '--region <region>',
      'a region to scan (repeatable or comma-separated; default: the appliance’s)',
      collect,
    )
    .action(async (name: string, o: AddOptions, cmd: Command) => {
      const opts = globals(cmd);
      const ways = [o.roleArn, o.accessKeysFromStdin, o.accessKeysFile].filter(Boolean).length;
      if (ways !== 1)
        throw new UsageError('give one of --role-arn, --access-keys-from-stdin or --access-keys-file');
      if (o.externalId && !o.roleArn) throw new UsageError('--external-id goes with --role-arn');
      const body: Record<string, unknown> = { name };
      if (o.region?.length) body.regions = o.region;
      if (o.roleArn) {
        body.roleArn = o.roleArn;
        if (o.externalId) body.externalId = o.externalId;
      } else if (o.accessKeysFile) {
        let text: string;
        try {
          text = readFileSync(o.accessKeysFile, 'utf8');
        } catch (err) {
          throw new UsageError(`cannot read ${o.accessKeysFile}: ${(err as Error).message}`);
        }
        body.accessKeys = parseAccessKeys(text, o.accessKeysFile);
      } else {
        body.accessKeys = parseAccessKeys(await readStdin(), 'standard input');
      }
      const a = (await session().client.post<AccountJson>('/accounts', body)).body;
      if (opts.json) return printJson(a);
      print(`added account ${a.name}: AWS account ${a.awsAccountId}, ${describeAccess(a)}`);
      if (a.externalId) print(`ExternalId: ${a.externalId} (the role's trust policy must require it)`);
      print(
        `regions: ${a.regions.join(', ')}; its inventory is being read now (\`lifeboat instance list --account ${a.name}\`)`,
      );
    });

  account
    .command('list')
    .description('list the accounts')
    .action(async (_o, cmd: Command) => {
      const opts = globals(cmd);
      const accounts = await session().client.list<AccountJson>('/accounts');
      if (opts.json) return printJson(accounts);
      if (accounts.length === 0) return print('no accounts: add one with `lifeboat account add`');
      printTable(
        ['name', 'aws account', 'access', 'regions', 'inventory', 'check'],
        accounts.map((a) => [
          a.name,
          a.awsAccountId,
          a.kind === 'role' ? `role ${a.roleArn?.split('/').pop()}` : `keys …${a.accessKeyHint}`,
          a.regions.join(','),
          inventorySummary(a),
          checkSummary(a),
        ]),
      );
    });

  account
    .command('show')
    .description('one account: access, regions and their last refresh (errors included), last check')
    .argument('<name>')
    .action(async (name: string, _o, cmd: Command) => {
      const opts = globals(cmd);
      const a = (await session().client.get<AccountJson>(accountPath(name))).body;
      if (opts.json) return printJson(a);
      const rows: Array<[string, string]> = [
        ['name', a.name],
        ['aws account', a.awsAccountId],
        ['access', describeAccess(a)],
        ...(a.externalId ? ([['external id', a.externalId]] as Array<[string, string]>) : []),
        ['principal', a.principalArn],
        ['regions', a.regions.join(', ')],
        ['added', `${formatTime(a.createdAt)} UTC`],
        ['version', String(a.version)],
      ];
      for (const [k, v] of rows) print(`${`${k}:`.padEnd(14)}${v}`);
      print('inventory:');
      for (const region of a.regions) {
        const s = a.inventory.find((x) => x.region === region);
        print(`  ${region.padEnd(16)}${regionLine(s)}`);
      }
      print(`check:${a.checkedAt ? ` (${relativeTime(a.checkedAt)})` : ''}`);
      printCheck(a);
    });

  account
    .command('check')
    .description('which IAM actions each feature lacks (IAM SimulatePrincipalPolicy; policies in docs/iam/)')
    .argument('<name>')
    .action(async (name: string, _o, cmd: Command) => {
      const opts = globals(cmd);
      const a = (await session().client.post<AccountJson>(`${accountPath(name)}/check`, {})).body;
      if (opts.json) return printJson({ name: a.name, checkedAt: a.checkedAt, ...a.lastCheck });
      print(`account ${a.name} (${a.principalArn}):`);
      printCheck(a);
    });

  account
    .command('remove')
    .description('remove an account, its stored credentials and its inventory')
    .argument('<name>')
    .action(async (name: string, _o, cmd: Command) => {
      const opts = globals(cmd);
      const { client } = session();
      const current = await client.get<AccountJson>(accountPath(name));
      await client.delete(accountPath(name), {
        headers: current.etag ? { 'if-match': current.etag } : {},
      });
      if (opts.json) return printJson({ name, removed: true });
      print(`removed account ${name}`);
    });
}

function describeAccess(a: AccountJson): string {
  return a.kind === 'role' ? `role ${a.roleArn}` : `access keys …${a.accessKeyHint}`;
}

function inventorySummary(a: AccountJson): string {
  const failed = a.inventory.filter((s) => s.error);
  const count = a.inventory.reduce((n, s) => n + s.instances, 0);
  if (a.inventory.length === 0) return 'not read yet';
  return failed.length ? `${count} instances, ${failed.length} region(s) failing` : `${count} instances`;
}

function checkSummary(a: AccountJson): string {
  if (!a.lastCheck) return 'not checked';
  const bad = a.lastCheck.features.filter((f) => !f.ok).map((f) => f.feature);
  return bad.length ? `missing for ${bad.join(',')}` : 'ok';
}

export function regionLine(s: RegionStatusJson | undefined): string {
  if (!s) return 'not read yet';
  const ok = s.refreshedAt ? `${s.instances} instances, read ${relativeTime(s.refreshedAt)}` : 'never read';
  return s.error ? `${ok}; last attempt ${relativeTime(s.attemptedAt)} FAILED: ${s.error}` : ok;
}

function printCheck(a: AccountJson): void {
  if (!a.lastCheck) {
    print(`  not checked: run \`lifeboat account check ${a.name}\``);
    return;
  }
  for (const f of a.lastCheck.features) {
    print(`  ${f.feature.padEnd(14)}${f.ok ? 'ok' : `missing ${f.missing.join(', ')}`}`);
  }
  if (a.lastCheck.features.some((f) => !f.ok))
    print('  (the policy of each feature: docs/iam/<feature>.json)');
}
