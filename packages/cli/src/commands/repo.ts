import {
  assertRepairable,
  type CheckReport,
  checkRepository,
  Repository,
  repairRepository,
} from '@lifeboat/repository';
import type { Command } from 'commander';
import { globals, openRepository, print, printJson, progressFor, storeFor } from '../context.js';
import { EXIT, UsageError } from '../errors.js';
import { readPassword } from '../password.js';

export function registerRepo(program: Command): void {
  const repo = program.command('repo').description('create, check and manage the keys of a repository');

  repo
    .command('init')
    .description('create a new, empty repository')
    .action(async (_o, cmd: Command) => {
      const opts = globals(cmd);
      const store = await storeFor(opts);
      const password = await readPassword({
        passwordFile: opts.passwordFile,
        env: 'LIFEBOAT_PASSWORD',
        prompt: 'New repository password: ',
        confirm: true,
      });
      const r = await Repository.init(store, password);
      if (opts.json)
        printJson({ id: r.id, location: store.location, keySlot: r.slotId, recoveryKey: r.recoveryKey });
      else {
        print(`created repository ${r.id} at ${store.location}`);
        print(
          'Recovery key (shown once, never stored: keep it offline; it opens the repository when every password is lost):',
        );
        print(`  ${r.recoveryKey}`);
      }
    });

  repo
    .command('check')
    .description('check the repository; exits with 3 and names what is damaged when anything is')
    .option('--read-data', 'also read and verify every byte of every pack')
    .option('--workers <n>', 'worker threads verifying packs with --read-data (default: one per core)')
    .action(async (o: { readData?: boolean; workers?: string }, cmd: Command) => {
      const opts = globals(cmd);
      const workers = o.workers === undefined ? undefined : Number(o.workers);
      if (workers !== undefined && (!Number.isInteger(workers) || workers < 1))
        throw new UsageError(`--workers must be a positive integer, not "${o.workers}"`);
      const r = await openRepository(opts);
      const report = await checkRepository(r, {
        readData: o.readData,
        progress: progressFor(opts),
        workers,
      });
      if (opts.json) printJson(report);
      else printReport(report, Boolean(o.readData));
      if (!report.ok) process.exitCode = EXIT.damaged;
    });

  repo
    .command('repair')
    .description(
      'store again, from the source disks, what check finds missing or corrupt; record what cannot be',
    )
    .option(
      '--source <name=image>',
      'source image of the disk NAME (repeatable)',
      (v: string, p: string[] = []) => [...p, v],
    )
    .option('--read-data', 'find corrupt data by reading every pack (else only missing or truncated data)')
    .action(async (o: { source?: string[]; readData?: boolean }, cmd: Command) => {
      const opts = globals(cmd);
      const sources: Record<string, string> = {};
      for (const s of o.source ?? []) {
        const eq = s.indexOf('=');
        if (eq <= 0)
          throw new UsageError(
            `--source ${s}: expected NAME=IMAGE (the disk name as "lifeboat points" shows it)`,
          );
        sources[s.slice(0, eq)] = s.slice(eq + 1);
      }
      assertRepairable(sources);
      const r = await openRepository(opts);
      const report = await repairRepository(r, { sources, readData: o.readData });
      if (opts.json) printJson(report);
      else {
        print(
          `${report.damagedBlobs} damaged blob(s) in use; ${report.repaired.length} stored again from the sources`,
        );
        for (const u of report.unrecoverable)
          print(`cannot repair ${u.id.slice(0, 16)} (${u.reason}): ${u.where.join('; ')}`);
      }
      if (report.unrecoverable.length) process.exitCode = EXIT.damaged;
    });

  repo
    .command('passwd')
    .description('change the password (default), add one, remove a key slot, or list key slots')
    .option('--add', 'add a password, keeping the current one')
    .option('--remove <slot>', 'remove the key slot with this id')
    .option('--list', 'list the key slots')
    .option('--add-kms <key>', 'add a key slot opened by this AWS KMS key (id, ARN or alias/NAME)')
    .option(
      '--new-password-file <file>',
      'read the new password from this file (else LIFEBOAT_NEW_PASSWORD or a prompt)',
    )
    .option('--label <text>', 'label of the new key slot')
    .action(
      async (
        o: {
          add?: boolean;
          remove?: string;
          list?: boolean;
          addKms?: string;
          newPasswordFile?: string;
          label?: string;
        },
        cmd: Command,
      ) => {
        const opts = globals(cmd);
        if ([o.add, o.remove, o.list, o.addKms].filter(Boolean).length > 1)
          throw new UsageError('choose one of --add, --add-kms, --remove and --list');
        const r = await openRepository(opts);
        if (o.list) return listSlots(r, Boolean(opts.json));
        if (o.addKms) {
          const { addKmsSlot } = await import('@lifeboat/aws');
          const slot = await addKmsSlot(r, o.addKms);
          return opts.json
            ? printJson({ added: slot.id, kms: slot.kms?.keyId })
            : print(`added KMS key slot ${slot.id} (${slot.kms?.keyId})`);
        }
        if (o.remove) {
          await r.removeSlot(o.remove);
          return opts.json ? printJson({ removed: o.remove }) : print(`removed key slot ${o.remove}`);
        }
        const password = await readPassword({
          passwordFile: o.newPasswordFile,
          env: 'LIFEBOAT_NEW_PASSWORD',
          prompt: 'New password: ',
          confirm: true,
        });
        // A change replaces the password that opened the repository; opened with the recovery key or KMS, it
        // adds a password and keeps that slot (removing the recovery key would lose the emergency way in).
        const opened = (await r.keySlots()).find((s) => s.id === r.slotId);
        const replace = !o.add && opened?.kind === 'password';
        const slot = await r.addPassword(password, o.label);
        if (replace) await r.removeSlot(r.slotId);
        if (opts.json) printJson({ added: slot.id, ...(replace ? { removed: r.slotId } : {}) });
        else
          print(
            replace
              ? `password changed: key slot ${slot.id} replaces ${r.slotId}`
              : `added key slot ${slot.id}`,
          );
      },
    );
}

async function listSlots(r: Repository, json: boolean): Promise<void> {
  const slots = (await r.keySlots()).map((s) => ({
    id: s.id,
    kind: s.kind,
    label: s.label,
    created: s.created,
    current: s.id === r.slotId,
  }));
  if (json) return printJson(slots);
  for (const s of slots)
    print(
      `${s.id}  ${s.kind.padEnd(8)}  ${s.created}  ${s.label}${s.current ? '  (opened this session)' : ''}`,
    );
}

function printReport(report: CheckReport, readData: boolean): void {
  const s = report.stats;
  print(`${s.points} restore points, ${s.indexFiles} index files, ${s.packs} packs, ${s.blobs} blobs`);
  if (readData) print(`read ${s.packBytesRead} bytes of packs, verified ${s.blobsVerified} blobs`);
  for (const p of report.problems) print(`damaged: ${p}`);
  for (const d of report.damaged) {
    for (const r of d.ranges)
      print(`damaged: restore point ${d.point}, disk ${d.disk}, bytes ${r.start}-${r.end}: ${r.reason}`);
  }
  print(
    report.ok
      ? 'no errors found'
      : `the repository is damaged: ${report.damaged.length} disk(s) of restore points affected`,
  );
}
