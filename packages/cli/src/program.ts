import { Command } from 'commander';
import { registerApplianceClient } from './appliance/register.js';
import { registerImage } from './commands/image.js';
import { registerMaintenance } from './commands/maintenance.js';
import { registerPoints } from './commands/points.js';
import { registerRepo } from './commands/repo.js';
import { registerSandbox } from './commands/sandbox.js';
import { registerServer } from './commands/server.js';

export const VERSION = '0.1.0';

export function buildProgram(): Command {
  const program = new Command('lifeboat')
    .description(
      'Lifeboat: backup and disaster recovery for AWS. Repository commands work without any appliance.',
    )
    .version(VERSION)
    .option('-r, --repo <location>', 'repository location (default: $LIFEBOAT_REPO)')
    .option(
      '--password-file <file>',
      'read the repository password from this file (default: $LIFEBOAT_PASSWORD or a prompt)',
    )
    .option(
      '--recovery-key-file <file>',
      'open the repository with the recovery key in this file (or $LIFEBOAT_RECOVERY_KEY)',
    )
    .option('--kms', 'open the repository with its AWS KMS key slot (AWS credentials from the environment)')
    .option('--json', 'machine-readable output')
    .option('-q, --quiet', 'no progress output')
    .option(
      '--no-direct-io',
      'write pack files and restored images through the page cache (default: O_DIRECT where possible)',
    )
    .showHelpAfterError()
    .exitOverride();
  registerRepo(program);
  registerImage(program);
  registerPoints(program);
  registerMaintenance(program);
  registerSandbox(program);
  registerServer(program);
  registerApplianceClient(program);
  return program;
}
