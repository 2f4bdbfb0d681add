/** Terminal questions of the appliance commands; passwords go through ../password.ts (never argv). */
import { createInterface } from 'node:readline';
import { UsageError } from '../errors.js';
import { readPassword } from '../password.js';

export function interactive(): boolean {
  return Boolean(process.stdin.isTTY && process.stderr.isTTY);
}

/** Asks a yes/no question on the terminal; anything but y/yes is no. */
export async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  try {
    const answer = await new Promise<string>((resolve) => rl.question(question, resolve));
    return /^\s*y(es)?\s*$/i.test(answer);
  } finally {
    rl.close();
  }
}

/**
 * A password for the appliance: from `file`, the environment variable `env`, or a prompt at a terminal (twice
 * for a new one). `fileOption` names the option in the error when there is none.
 */
export async function appliancePassword(src: {
  file?: string;
  env: string;
  fileOption: string;
  prompt: string;
  confirm?: boolean;
}): Promise<string> {
  if (!src.file && !process.env[src.env] && !process.stdin.isTTY) {
    throw new UsageError(
      `no password: set ${src.env}, pass ${src.fileOption}, or run on a terminal to be asked`,
    );
  }
  return readPassword({
    ...(src.file && { passwordFile: src.file }),
    env: src.env,
    prompt: src.prompt,
    ...(src.confirm && { confirm: true }),
  });
}
