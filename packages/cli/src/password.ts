import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { UsageError } from './errors.js';

export interface PasswordSources {
  passwordFile?: string;
  env: string; // name of the environment variable
  prompt: string;
  confirm?: boolean; // ask twice (new passwords)
}

/** A password from a file (first line), the environment, or a prompt on the terminal; never from argv. */
export async function readPassword(src: PasswordSources): Promise<string> {
  if (src.passwordFile) {
    let text: string;
    try {
      text = readFileSync(src.passwordFile, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read the password file ${src.passwordFile}: ${(err as Error).message}`);
    }
    const line = text.split(/\r?\n/)[0] ?? '';
    if (!line) throw new UsageError(`the password file ${src.passwordFile} is empty`);
    return line;
  }
  const fromEnv = process.env[src.env];
  if (fromEnv) return fromEnv;
  if (!process.stdin.isTTY) {
    throw new UsageError(
      `no password: set ${src.env}, pass --password-file, or run on a terminal to be asked`,
    );
  }
  const first = await prompt(src.prompt);
  if (src.confirm && (await prompt('Enter it again: ')) !== first)
    throw new UsageError('the passwords do not match');
  if (!first) throw new UsageError('the password is empty');
  return first;
}

async function prompt(question: string): Promise<string> {
  let muted = false;
  const output = new Writable({
    write(chunk, _enc, cb) {
      if (!muted) process.stderr.write(chunk);
      cb();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  try {
    process.stderr.write(question);
    muted = true;
    const answer = await new Promise<string>((resolve) => rl.question('', resolve));
    process.stderr.write('\n');
    return answer;
  } finally {
    rl.close();
  }
}
