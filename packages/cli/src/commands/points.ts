import type { Command } from 'commander';
import { globals, openRepository, print, printJson } from '../context.js';
import { EXIT } from '../errors.js';
import { formatBytes } from '../progress.js';

export function registerPoints(program: Command): void {
  program
    .command('points')
    .description('list restore points')
    .option('--resource <id>', 'only restore points of this resource')
    .action(async (o: { resource?: string }, cmd: Command) => {
      const opts = globals(cmd);
      const r = await openRepository(opts);
      const scan = await r.scanPoints();
      const points = scan.points.filter((p) => !o.resource || p.resource.id === o.resource);
      for (const d of scan.damaged)
        process.stderr.write(`damaged: restore point ${d.id}: ${d.error.message}\n`);
      if (scan.damaged.length) process.exitCode = EXIT.damaged;
      if (opts.json) return printJson(points);
      if (points.length === 0) return print('no restore points');
      print(`${'id'.padEnd(24)} ${'finished'.padEnd(20)} ${'resource'.padEnd(24)} disks`);
      for (const p of points) {
        const disks = p.disks.map((d) => `${d.name} (${formatBytes(d.sizeBytes)})`).join(', ');
        print(
          `${p.id.padEnd(24)} ${p.finishedAt.slice(0, 19).padEnd(20)} ${p.resource.id.padEnd(24)} ${disks}`,
        );
      }
      print(`${points.length} restore point${points.length === 1 ? '' : 's'}`);
    });
}
