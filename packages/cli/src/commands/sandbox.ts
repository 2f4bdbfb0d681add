import type { RunningSandbox } from '@lifeboat/sandbox';
import type { Command } from 'commander';
import { globals, print, printJson } from '../context.js';
import { UsageError } from '../errors.js';

export function registerSandbox(program: Command): void {
  const sandbox = program
    .command('sandbox')
    .description(
      'an AWS-compatible local cloud (EC2, EBS direct APIs) with real block content, for demos and tests',
    );

  sandbox
    .command('serve', { isDefault: true })
    .description('run the sandbox until interrupted (the default)')
    .option(
      '--data <dir>',
      'folder for state and volume content (kept across restarts; default: a temporary folder)',
    )
    .option('--port <n>', 'loopback port (default: any free port)')
    .option(
      '--seed <name>',
      'create the "demo" environment: accounts, regions, VPCs and instances with real file systems',
    )
    .option('--fast', 'no AWS-like delays (snapshots complete at once): for benchmarks')
    .option(
      '--no-direct-io',
      'block data through the page cache instead of O_DIRECT (also LIFEBOAT_SANDBOX_DIRECT_IO=0): for comparison',
    )
    .action(async (o: ServeOptions, cmd: Command) => {
      const opts = globals(cmd);
      if (o.seed !== undefined && o.seed !== 'demo')
        throw new UsageError(`--seed ${o.seed}: the only seed is "demo"`);
      const port = o.port === undefined ? 0 : Number(o.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535)
        throw new UsageError(`--port ${o.port} is not a port number`);
      // Loaded on demand: repository commands (disaster recovery) must not depend on the sandbox.
      const { startSandbox } = await import('@lifeboat/sandbox');
      const sb = await startSandbox({
        dataDir: o.data,
        port,
        fast: o.fast,
        // Commander sets directIo to true unless --no-direct-io: only "off" is passed, so the variable still counts.
        ...(o.directIo === false && { directIo: false }),
        seed: o.seed as 'demo' | undefined,
      });
      announce(sb, Boolean(opts.json));
      await untilSignal();
      await sb.close();
    });

  sandbox
    .command('accounts')
    .description("print the sandbox's test accounts and their access keys (fixtures, not secrets)")
    .action(async (_o, cmd: Command) => {
      const { TEST_ACCOUNTS } = await import('@lifeboat/sandbox');
      const accounts = TEST_ACCOUNTS.map(({ accountId, name, accessKeyId, secretAccessKey }) => ({
        accountId,
        name,
        accessKeyId,
        secretAccessKey,
      }));
      if (globals(cmd).json) return printJson(accounts);
      for (const a of accounts)
        print(`${a.accountId}  ${a.name.padEnd(12)} ${a.accessKeyId} ${a.secretAccessKey}`);
    });
}

interface ServeOptions {
  data?: string;
  port?: string;
  seed?: string;
  fast?: boolean;
  directIo?: boolean;
}

function announce(sb: RunningSandbox, json: boolean): void {
  const accounts = sb.accounts.map(({ accountId, name, accessKeyId, secretAccessKey }) => ({
    accountId,
    name,
    accessKeyId,
    secretAccessKey,
  }));
  if (json) {
    printJson({
      endpoint: sb.endpoint,
      dataDir: sb.dataDir,
      adminToken: sb.adminToken,
      accounts,
      regions: sb.regions.map((r) => r.name),
    });
    return;
  }
  print(`Lifeboat sandbox listening on ${sb.endpoint} (data in ${sb.dataDir})`);
  print(`regions: ${sb.regions.map((r) => r.name).join(', ')}`);
  print('accounts (test fixtures, not secrets):');
  for (const a of accounts)
    print(`  ${a.accountId}  ${a.name.padEnd(12)} ${a.accessKeyId} ${a.secretAccessKey}`);
  print(`admin API: ${sb.endpoint}/_sandbox/ with "Authorization: Bearer ${sb.adminToken}"`);
  const first = accounts[0]!;
  print('AWS CLI:');
  print(`  AWS_ACCESS_KEY_ID=${first.accessKeyId} AWS_SECRET_ACCESS_KEY=${first.secretAccessKey} \\`);
  print(`  aws --endpoint-url ${sb.endpoint} --region us-east-1 ec2 describe-instances`);
}

function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    const done = () => resolve();
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
}
