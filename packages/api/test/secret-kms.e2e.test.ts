/**
 * Issue 16, end to end: the appliance's secret wrapped by a KMS key of the sandbox (nothing plain on disk, unwrapped
 * at start through AWS_ENDPOINT_URL, one clear line when KMS refuses), restored from a `--kms-file-out` copy, or
 * from the newest phrase with no KMS at all; the phrase shown at a terminal (a pseudo-terminal from script(1)); and
 * the proof: AWS access keys stored (sealed) by one appliance, still used after a rotation, are used by a second
 * appliance restored from the newest phrase, a copy of secret.json and a copy of the catalog.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CreateAliasCommand, CreateKeyCommand, DisableKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { type RunningSandbox, startSandbox } from '@lifeboat/sandbox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_PASSWORD,
  Api,
  BIN,
  lifeboat,
  oneLineError,
  ROOT,
  type RunResult,
  stopAll,
  tempDir,
} from './appliance-process.js';

const PHRASE = /LB1-(?:[A-Z2-9]{4}-){12}[A-Z2-9]{4}/;
let sandbox: RunningSandbox;
let kms: KMSClient;
let aws: Record<string, string> = {};
let keyArn = '';
const work = tempDir('secret-kms');
const A = join(work, 'a');
const servers = new Set<ChildProcess>();

beforeAll(async () => {
  sandbox = await startSandbox({ fast: true });
  const account = sandbox.accounts[0]!;
  aws = {
    AWS_ACCESS_KEY_ID: account.accessKeyId,
    AWS_SECRET_ACCESS_KEY: account.secretAccessKey,
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL: sandbox.endpoint,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
  kms = new KMSClient({
    endpoint: sandbox.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: account.accessKeyId, secretAccessKey: account.secretAccessKey },
  });
  const key = await kms.send(new CreateKeyCommand({ Description: 'lifeboat appliance secret' }));
  keyArn = key.KeyMetadata!.Arn!;
  await kms.send(
    new CreateAliasCommand({ AliasName: 'alias/appliance', TargetKeyId: key.KeyMetadata!.KeyId }),
  );
}, 60_000);

afterAll(async () => {
  for (const s of servers) s.kill('SIGKILL');
  kms?.destroy();
  await sandbox?.close();
  await stopAll();
});

function ok(r: RunResult): RunResult {
  expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
  return r;
}

function phraseIn(file: string): string {
  expect(statSync(file).mode & 0o777).toBe(0o600);
  return readFileSync(file, 'utf8').trim();
}

/** `lifeboat server` with the AWS environment, until it listens (then SIGTERM) or exits. */
function serve(data: string, env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, 'server', '--data', data, '--listen', '127.0.0.1:0'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: work, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    servers.add(child);
    let out = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const read = (s: string) => {
      out += s;
      if (/lifeboat appliance: /.test(out)) child.kill('SIGTERM');
    };
    child.stdout.setEncoding('utf8').on('data', read);
    child.stderr.setEncoding('utf8').on('data', read);
    child.on('close', (code) => {
      clearTimeout(timer);
      servers.delete(child);
      done({ code, out });
    });
  });
}

/** A lifeboat command at a terminal: script(1) gives it a pseudo-terminal; its whole output is returned. */
function atTerminal(args: string[], env: Record<string, string> = {}): { code: number; out: string } {
  const command = [process.execPath, BIN, ...args].map((a) => `'${a}'`).join(' ');
  const r = spawnSync('script', ['-qec', command, '/dev/null'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: work, TERM: 'dumb', ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { code: r.status ?? 128, out: `${r.stdout}${r.stderr}` };
}

describe('a KMS-wrapped appliance secret, through the CLI', () => {
  it('init --kms-key keeps only KMS ciphertext on disk; --kms-file-out saves a copy; the appliance starts through KMS', async () => {
    const r = ok(
      await lifeboat(
        [
          'server',
          'init',
          '--data',
          A,
          '--kms-key',
          'alias/appliance',
          '--kms-file-out',
          join(work, 'wrapped.json'),
          '--recovery-phrase-file',
          join(work, 'phrase-1'),
        ],
        { ...aws, LIFEBOAT_ADMIN_PASSWORD: ADMIN_PASSWORD },
      ),
    );
    expect(r.stdout).toMatch(/kept wrapped by KMS key alias\/appliance/);
    const file = JSON.parse(readFileSync(join(A, 'secret.json'), 'utf8'));
    expect(file.current.secret).toBeUndefined();
    expect(file.current.kms.keyId).toBe(keyArn);
    expect(readFileSync(join(work, 'wrapped.json'), 'utf8')).toBe(
      readFileSync(join(A, 'secret.json'), 'utf8'),
    );
    expect(statSync(join(work, 'wrapped.json')).mode & 0o777).toBe(0o600);
    expect(phraseIn(join(work, 'phrase-1'))).toMatch(PHRASE);
    const started = await serve(A, aws);
    expect(started.out).toMatch(/lifeboat appliance: http/);
    expect(started.out).not.toMatch(/error:/);
    expect(started.out).not.toMatch(PHRASE);
  });

  it('rotate-secret keeps the KMS wrapping; a copy of the wrapped file restores the same secret elsewhere', async () => {
    ok(
      await lifeboat(
        ['server', 'rotate-secret', '--data', A, '--recovery-phrase-file', join(work, 'phrase-2')],
        aws,
      ),
    );
    const file = JSON.parse(readFileSync(join(A, 'secret.json'), 'utf8'));
    expect(file.current.secret).toBeUndefined();
    expect(file.older).toHaveLength(1);
    copyFileSync(join(A, 'secret.json'), join(work, 'wrapped-2.json'));
    const B = join(work, 'b');
    ok(
      await lifeboat(['server', 'init', '--data', B, '--from-kms-file', join(work, 'wrapped-2.json')], {
        ...aws,
        LIFEBOAT_ADMIN_PASSWORD: ADMIN_PASSWORD,
      }),
    );
    ok(await lifeboat(['server', 'recovery-phrase', '--data', B, '--file', join(work, 'phrase-b')], aws));
    expect(phraseIn(join(work, 'phrase-b'))).toBe(phraseIn(join(work, 'phrase-2')));
  });

  it('a disabled KMS key stops the appliance with one clear line; the newest phrase restores without KMS', async () => {
    await kms.send(new DisableKeyCommand({ KeyId: keyArn }));
    const refused = await serve(A, aws);
    expect(refused.code).toBe(1);
    expect(oneLineError(refused.out)).toMatch(
      /^error: KMS refused to unwrap the appliance secret in .*secret\.json/,
    );
    const C = join(work, 'c');
    ok(
      await lifeboat(
        [
          'server',
          'init',
          '--data',
          C,
          '--from-recovery-phrase-file',
          join(work, 'phrase-2'),
          '--older-keys-from',
          join(work, 'wrapped-2.json'),
        ],
        { LIFEBOAT_ADMIN_PASSWORD: ADMIN_PASSWORD },
      ),
    );
    const file = JSON.parse(readFileSync(join(C, 'secret.json'), 'utf8'));
    expect(file.older).toHaveLength(1);
    expect(file.current.id).toBe(JSON.parse(readFileSync(join(work, 'wrapped-2.json'), 'utf8')).current.id);
  });
});

describe('the recovery phrase at a terminal', () => {
  it('init shows it once on the terminal with a clear line to write it down', () => {
    const D = join(work, 'd');
    const r = atTerminal(['server', 'init', '--data', D], { LIFEBOAT_ADMIN_PASSWORD: ADMIN_PASSWORD });
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/WRITE THIS DOWN/);
    const shown = PHRASE.exec(r.out)?.[0];
    const again = atTerminal(['server', 'recovery-phrase', '--data', D]);
    expect(again.code, again.out).toBe(0);
    expect(PHRASE.exec(again.out)?.[0]).toBe(shown);
  });

  it('a first start at a terminal shows it too', async () => {
    const E = join(work, 'e');
    const command = [process.execPath, BIN, 'server', '--data', E, '--listen', '127.0.0.1:0']
      .map((a) => `'${a}'`)
      .join(' ');
    const child = spawn('script', ['-qec', command, '/dev/null'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: work,
        TERM: 'dumb',
        LIFEBOAT_ADMIN_PASSWORD: ADMIN_PASSWORD,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    servers.add(child);
    let out = '';
    await new Promise<void>((done) => {
      const timer = setTimeout(done, 30_000);
      child.stdout!.setEncoding('utf8').on('data', (s: string) => {
        out += s;
        if (/lifeboat appliance: /.test(out)) {
          clearTimeout(timer);
          done();
        }
      });
    });
    if (child.exitCode === null) {
      const closed = new Promise((done) => child.once('close', done));
      process.kill(-child.pid!, 'SIGTERM');
      await closed;
    }
    servers.delete(child);
    expect(out).toMatch(/WRITE THIS DOWN/);
    expect(out).toMatch(PHRASE);
    ok(await lifeboat(['server', 'recovery-phrase', '--data', E, '--file', join(work, 'phrase-e')]));
    expect(PHRASE.exec(out)?.[0]).toBe(phraseIn(join(work, 'phrase-e')));
  });
});

/** A running `lifeboat server` with the AWS environment (appliance-process.ts starts one without it). */
async function startWith(
  data: string,
  env: Record<string, string>,
): Promise<{ api: Api; output: () => string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [BIN, 'server', '--data', data, '--listen', '127.0.0.1:0'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: work, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  servers.add(child);
  let out = '';
  const closed = new Promise<void>((done) => child.once('close', () => done()));
  const base = await new Promise<string>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`no start in 30 s:\n${out}`)), 30_000);
    const read = (s: string) => {
      out += s;
      const m = /lifeboat appliance: (\S+\/api\/v1)/.exec(out);
      if (m) {
        clearTimeout(timer);
        done(m[1]!);
      }
    };
    child.stdout.setEncoding('utf8').on('data', read);
    child.stderr.setEncoding('utf8').on('data', read);
    child.once('exit', (code) => fail(new Error(`exited ${code}:\n${out}`)));
  });
  return {
    api: new Api(base),
    output: () => out,
    stop: async () => {
      child.kill('SIGTERM');
      await closed;
      servers.delete(child);
    },
  };
}

describe('stored credentials across appliances (the proof of issue 16)', () => {
  it("a second appliance restored from the newest recovery phrase uses the first one's stored credentials", async () => {
    const P = join(work, 'p');
    const Q = join(work, 'q');
    const R = join(work, 'r');
    const account = sandbox.accounts[1]!;
    ok(
      await lifeboat(['server', 'init', '--data', P, '--recovery-phrase-file', join(work, 'phrase-p1')], {
        LIFEBOAT_ADMIN_PASSWORD: ADMIN_PASSWORD,
      }),
    );
    // P stores an account's access keys, sealed with its first key
    let p = await startWith(P, aws);
    let token = await p.api.login('admin', ADMIN_PASSWORD);
    const added = await p.api.call('POST', '/accounts', {
      token,
      body: {
        name: 'prod',
        regions: ['us-east-1'],
        accessKeys: { accessKeyId: account.accessKeyId, secretAccessKey: account.secretAccessKey },
      },
    });
    expect(added.status, added.text).toBe(201);
    expect(added.text).not.toContain(account.secretAccessKey);
    await p.stop();
    // a rotation: the keys sealed with the older key still open in P
    ok(
      await lifeboat([
        'server',
        'rotate-secret',
        '--data',
        P,
        '--recovery-phrase-file',
        join(work, 'phrase-p2'),
      ]),
    );
    p = await startWith(P, aws);
    token = await p.api.login('admin', ADMIN_PASSWORD);
    const checked = await p.api.call('POST', '/accounts/prod/check', { token });
    expect(checked.status, checked.text).toBe(200);
    mkdirSync(Q, { recursive: true });
    mkdirSync(R, { recursive: true });
    ok(await lifeboat(['server', 'backup-catalog', join(Q, 'catalog.db'), '--data', P]));
    copyFileSync(join(Q, 'catalog.db'), join(R, 'catalog.db'));
    await p.stop();
    expect(p.output()).not.toMatch(PHRASE);
    copyFileSync(join(P, 'secret.json'), join(work, 'secret-p.json'));

    // Q: the newest phrase and a copy of secret.json, with the catalog copy: the stored keys work
    ok(
      await lifeboat([
        'server',
        'init',
        '--data',
        Q,
        '--from-recovery-phrase-file',
        join(work, 'phrase-p2'),
        '--older-keys-from',
        join(work, 'secret-p.json'),
      ]),
    );
    const q = await startWith(Q, aws);
    const qToken = await q.api.login('admin', ADMIN_PASSWORD);
    const qChecked = await q.api.call('POST', '/accounts/prod/check', { token: qToken });
    expect(qChecked.status, qChecked.text).toBe(200);
    await q.stop();
    expect(q.output()).not.toMatch(PHRASE);

    // R: the newest phrase alone restores only the newest key: keys sealed before the rotation do not open
    ok(
      await lifeboat(['server', 'init', '--data', R, '--from-recovery-phrase-file', join(work, 'phrase-p2')]),
    );
    const r = await startWith(R, aws);
    const rToken = await r.api.login('admin', ADMIN_PASSWORD);
    const rChecked = await r.api.call<{ code: string }>('POST', '/accounts/prod/check', { token: rToken });
    expect(rChecked.status).toBe(409);
    expect(rChecked.body.code).toBe('SECRET_MISMATCH');
    await r.stop();
  });
});
