import { execFile, spawnSync } from 'node:child_process';

/** A Debian-packaged client, or undefined (with a message saying what to install) when it is not there. */
export function binary(name: string, versionArgs: string[]): string | undefined {
  const path = `/usr/bin/${name}`;
  const ok = spawnSync(path, versionArgs, { timeout: 30_000 }).status === 0;
  if (!ok)
    console.warn(
      `${name} tests skipped: ${path} is missing (apt-get install -y ${name}, or scripts/install-deps.sh)`,
    );
  return ok ? path : undefined;
}

export function run(
  cmd: string,
  args: string[],
  env: Record<string, string>,
  timeout = 120_000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env, timeout, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}
