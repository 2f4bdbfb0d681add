/**
 * Saved logins: `${XDG_CONFIG_HOME:-~/.config}/lifeboat/credentials.json`, folder 0700, file 0600, written
 * atomically (a temporary file created 0600, then renamed). Shape:
 * `{ "current": URL, "servers": { URL: { user, token, expiresAt, fingerprint?, certificate? } } }`.
 */
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { UsageError } from '../errors.js';

export const DEFAULT_SERVER = 'http://127.0.0.1:7420';

export interface SavedServer {
  user?: string;
  token?: string;
  expiresAt?: string;
  /** SHA-256 of the pinned certificate (https only), `AB:CD:…`. */
  fingerprint?: string;
  /** The pinned certificate, PEM. */
  certificate?: string;
}

export interface Credentials {
  current?: string;
  servers: Record<string, SavedServer>;
}

export function credentialsPath(): string {
  const base = process.env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(base, 'lifeboat', 'credentials.json');
}

export function loadCredentials(path = credentialsPath()): Credentials {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { servers: {} };
    throw new UsageError(`cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    const parsed = JSON.parse(text) as Partial<Credentials>;
    const servers = parsed.servers && typeof parsed.servers === 'object' ? parsed.servers : {};
    return { ...(typeof parsed.current === 'string' && { current: parsed.current }), servers };
  } catch {
    throw new UsageError(`${path} is not valid JSON: remove it and run \`lifeboat login\` again`);
  }
}

export function saveCredentials(creds: Credentials, path = credentialsPath()): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  try {
    chmodSync(dir, 0o700);
  } catch {
    // not ours to change (a shared folder): the file itself stays 0600
  }
  const tmp = join(dir, `.credentials.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, `${JSON.stringify(creds, null, 2)}\n`);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** Changes the saved credentials under one read-modify-write. */
export function updateCredentials(change: (creds: Credentials) => void): Credentials {
  const creds = loadCredentials();
  change(creds);
  saveCredentials(creds);
  return creds;
}
