import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { expect } from 'vitest';
import type { RunningSandbox } from '../../src/index.js';

/**
 * The real AWS CLI v2 for the smoke tests: Debian's /usr/bin/aws (the first `aws` on PATH may be another one,
 * e.g. a v1 from pip). Undefined when it is not installed: the tests then skip with a message.
 */
export const AWS_CLI =
  existsSync('/usr/bin/aws') && spawnSync('/usr/bin/aws', ['--version'], { timeout: 30_000 }).status === 0
    ? '/usr/bin/aws'
    : undefined;

export function warnIfMissing(what: string): void {
  if (!AWS_CLI) console.warn(`${what} skipped: no /usr/bin/aws (install the Debian package awscli)`);
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Who runs the CLI, and for which region, when not the sandbox's first account in us-east-1. */
export interface CliAs {
  accessKeyId?: string;
  secretAccessKey?: string;
  region?: string;
}

/**
 * Runs `aws --endpoint-url <sandbox> --output json ARGS` as the sandbox's first account (or as `as` says), isolated
 * from ~/.aws. Debian 12's CLI predates AWS_ENDPOINT_URL: the endpoint goes on the command line.
 */
export function runAws(
  sb: RunningSandbox,
  args: string[],
  home = tmpdir(),
  timeoutMs = 120_000,
  as: CliAs = {},
): Promise<CliResult> {
  const a = sb.accounts[0]!;
  const env = {
    PATH: '/usr/bin:/bin',
    HOME: home,
    AWS_ACCESS_KEY_ID: as.accessKeyId ?? a.accessKeyId,
    AWS_SECRET_ACCESS_KEY: as.secretAccessKey ?? a.secretAccessKey,
    AWS_DEFAULT_REGION: as.region ?? 'us-east-1',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_PAGER: '',
    AWS_EC2_METADATA_DISABLED: 'true',
  };
  return new Promise((resolve) => {
    execFile(
      AWS_CLI!,
      ['--endpoint-url', sb.endpoint, '--output', 'json', ...args],
      { env, timeout: timeoutMs },
      (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** Runs the CLI, expects success, parses its JSON output ({} when empty). */
export async function awsJson(
  sb: RunningSandbox,
  args: string[],
  home?: string,
): Promise<Record<string, unknown>> {
  const r = await runAws(sb, args, home);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim() ? JSON.parse(r.stdout) : {};
}

/** The error code and message the CLI printed for a refused call ("An error occurred (Code) when calling ..."). */
export function cliError(r: CliResult): { code?: string; message?: string } {
  const m =
    /An error occurred \(([^)]+)\)(?: \(reached max retries: \d+\))? when calling the \w+ operation: (.*)/.exec(
      r.stderr,
    );
  return { code: m?.[1], message: m?.[2]?.trim() };
}
