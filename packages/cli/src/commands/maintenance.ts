import {
  activeLeases,
  breakLeases,
  forget,
  type PruneReport,
  parseDuration,
  prune,
  type RetentionPolicy,
} from '@lifeboat/repository';
import type { Command } from 'commander';
import { globals, openRepository, print, printJson } from '../context.js';
import { UsageError } from '../errors.js';
import { formatBytes } from '../progress.js';

interface ForgetFlags {
  keepLast?: string;
  keepHourly?: string;
  keepDaily?: string;
  keepWeekly?: string;
  keepMonthly?: string;
  keepYearly?: string;
  keepWithin?: string;
  resource?: string;
  dryRun?: boolean;
  prune?: boolean;
}

export function registerMaintenance(program: Command): void {
  program
    .command('forget')
    .description(
      'forget restore points by id or by retention rules (restic semantics); --prune frees their space',
    )
    .argument('[points...]', 'restore points to forget (ids or unique prefixes)')
    .option('--keep-last <n>', 'keep the n newest restore points')
    .option('--keep-hourly <n>', 'keep the newest restore point of each of the last n hours that have one')
    .option('--keep-daily <n>', 'keep the newest restore point of each of the last n days that have one')
    .option(
      '--keep-weekly <n>',
      'keep the newest restore point of each of the last n ISO weeks that have one',
    )
    .option('--keep-monthly <n>', 'keep the newest restore point of each of the last n months that have one')
    .option('--keep-yearly <n>', 'keep the newest restore point of each of the last n years that have one')
    .option(
      '--keep-within <duration>',
      'keep every restore point within this duration (e.g. 7d, 2w, 1y6m) of the newest',
    )
    .option('--resource <id>', 'only restore points of this resource')
    .option('--dry-run', 'say what would be forgotten, change nothing')
    .option('--prune', 'run prune afterwards')
    .action(async (ids: string[], o: ForgetFlags, cmd: Command) => {
      const opts = globals(cmd);
      const policy = policyOf(o);
      if (policy && ids.length) throw new UsageError('give restore point ids or --keep-* rules, not both');
      if (!policy && ids.length === 0)
        throw new UsageError('nothing to forget: give restore point ids or --keep-* rules');
      const repo = await openRepository(opts);
      const report = await forget(repo, {
        policy,
        ids: ids.length ? ids : undefined,
        resource: o.resource,
        dryRun: o.dryRun,
      });
      const pruned = o.prune && !o.dryRun ? await prune(repo) : undefined;
      if (opts.json) {
        return printJson({
          dryRun: report.dryRun,
          removed: report.removed,
          groups: report.groups.map((g) => ({
            group: g.key,
            points: g.decisions.map((d) => ({
              id: d.point.id,
              finishedAt: d.point.finishedAt,
              keep: d.keep,
              reasons: d.reasons,
            })),
          })),
          ...(pruned ? { prune: pruned } : {}),
        });
      }
      for (const g of report.groups) {
        print(`${g.key}:`);
        for (const d of g.decisions)
          print(
            `  ${d.keep ? 'keep  ' : 'forget'} ${d.point.id}  ${d.point.finishedAt.slice(0, 19)}  ${d.reasons.join(', ')}`,
          );
      }
      print(`${report.dryRun ? 'would forget' : 'forgot'} ${report.removed.length} restore point(s)`);
      if (pruned) printPrune(pruned);
    });

  program
    .command('prune')
    .description(
      'delete data no restore point needs, safely beside running backups (two phases: plan, then complete)',
    )
    .option('--dry-run', 'say what would be planned, delete nothing')
    .option('--grace <duration>', 'complete a plan only after it is this old (default 1h)')
    .option(
      '--repack-threshold <fraction>',
      'repack a pack when this share of it is unused (default 0.25; 1 = never)',
    )
    .action(async (o: { dryRun?: boolean; grace?: string; repackThreshold?: string }, cmd: Command) => {
      const opts = globals(cmd);
      const repackThreshold = o.repackThreshold === undefined ? undefined : Number(o.repackThreshold);
      if (repackThreshold !== undefined && !(repackThreshold > 0 && repackThreshold <= 1)) {
        throw new UsageError('--repack-threshold must be a fraction in (0, 1]');
      }
      const graceMs = o.grace === undefined ? undefined : o.grace === '0' ? 0 : parseDuration(o.grace);
      const repo = await openRepository(opts);
      const report = await prune(repo, { dryRun: o.dryRun, graceMs, repackThreshold });
      if (opts.json) return printJson(report);
      printPrune(report);
    });

  program.commands
    .find((c) => c.name() === 'repo')
    ?.command('unlock')
    .description('show who holds the maintenance lease; --break removes it (only when that process is gone)')
    .option('--break', 'remove every maintenance lease')
    .action(async (o: { break?: boolean }, cmd: Command) => {
      const opts = globals(cmd);
      const repo = await openRepository(opts);
      if (o.break) {
        const removed = await breakLeases(repo);
        if (opts.json) return printJson({ removed });
        return print(
          `removed ${removed.length} lease(s)${removed.map((l) => `\n  ${l.owner}, until ${new Date(l.expiresAt).toISOString()}`).join('')}`,
        );
      }
      const leases = await activeLeases(repo);
      if (opts.json) return printJson(leases);
      if (leases.length === 0) return print('no maintenance lease is held');
      for (const l of leases)
        print(
          `${l.owner} holds the maintenance lease since ${new Date(l.acquiredAt).toISOString()}, until ${new Date(l.expiresAt).toISOString()}`,
        );
    });
}

function policyOf(o: ForgetFlags): RetentionPolicy | undefined {
  const n = (v: string | undefined, flag: string) => {
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v)) throw new UsageError(`${flag} must be a whole number, not "${v}"`);
    return Number(v);
  };
  const policy: RetentionPolicy = {
    last: n(o.keepLast, '--keep-last'),
    hourly: n(o.keepHourly, '--keep-hourly'),
    daily: n(o.keepDaily, '--keep-daily'),
    weekly: n(o.keepWeekly, '--keep-weekly'),
    monthly: n(o.keepMonthly, '--keep-monthly'),
    yearly: n(o.keepYearly, '--keep-yearly'),
    withinMs: o.keepWithin === undefined ? undefined : parseDuration(o.keepWithin),
  };
  return Object.values(policy).some((v) => v !== undefined) ? policy : undefined;
}

function printPrune(r: PruneReport): void {
  print(`${r.reachableBlobs} blobs in use`);
  for (const c of r.completed) {
    print(
      `plan ${c.plan} completed: ${c.packsDeleted} pack(s) deleted, ${formatBytes(c.bytesFreed)} freed${c.spared ? `, ${c.spared} spared (in use again)` : ''}${c.retained ? `, ${c.retained} retained by object lock` : ''}`,
    );
  }
  for (const w of r.waiting) print(`plan ${w.plan} waits: ${w.reason}`);
  if (r.planned) {
    const p = r.planned;
    print(
      `${r.dryRun ? 'would plan' : 'planned'} ${p.plan}: ${p.packs} pack(s), ${formatBytes(p.bytes)}${p.repackedBlobs ? ` (${p.repackedBlobs} live blobs, ${formatBytes(p.repackedBytes)}, ${r.dryRun ? 'to be' : ''} copied out first)` : ''}; deleted by a later prune once no earlier backup runs and the grace period has passed`,
    );
  } else print('nothing new to delete');
}
