/**
 * Certificate pinning of the appliance client (issue 15): over HTTPS the CLI trusts exactly the certificate whose
 * SHA-256 fingerprint was given (or saved at login); a changed certificate is refused with exit 10 before any
 * request byte reaches the server.
 */
import { spawn, spawnSync } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  Cli,
  expectApplianceFailure,
  FakeAppliance,
  makeCertificate,
  type TlsMaterial,
} from './appliance-fake.js';
import { BIN, ROOT, removeDir, tempDir } from './helpers.js';

/** util-linux `script` gives the CLI a terminal (the trust question is asked only at one). */
const HAS_SCRIPT = spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0;

/** Runs `lifeboat login` on a pseudo-terminal, answering the trust question with `answer`. */
function loginAtTerminal(cli: Cli, answer: string): Promise<{ code: number | null; output: string }> {
  const child = spawn('script', ['-qec', `${process.execPath} ${BIN} login`, '/dev/null'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: cli.config,
      XDG_CONFIG_HOME: cli.config,
      LIFEBOAT_SERVER: cli.server,
      LIFEBOAT_LOGIN_PASSWORD: 'admin-secret',
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  let answered = false;
  const onData = (b: Buffer) => {
    output += b.toString();
    if (!answered && output.includes('trust this certificate? [y/N]')) {
      answered = true;
      child.stdin.write(`${answer}\n`);
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, output })));
}

let dir: string;
let certA: TlsMaterial;
let certB: TlsMaterial;
const running: FakeAppliance[] = [];

beforeAll(() => {
  dir = tempDir('appliance-tls');
  certA = makeCertificate(dir, 'a');
  certB = makeCertificate(dir, 'b');
});
afterAll(() => removeDir(dir));
afterEach(async () => {
  for (const f of running.splice(0)) await f.stop().catch(() => {});
});

async function serve(tls: TlsMaterial, port = 0): Promise<FakeAppliance> {
  const f = await new FakeAppliance(tls).start(port);
  running.push(f);
  return f;
}

describe('https appliance', () => {
  it('login pins the fingerprint given in any spelling, saves it with the certificate, and later requests pass', async () => {
    const fake = await serve(certA);
    const cli = new Cli(fake.url);
    const spelled = certA.fingerprint.replace(/:/g, '').toLowerCase();
    await cli.login('admin', 'admin-secret', ['--fingerprint', spelled]);
    const saved = cli.credentials().servers[fake.url]!;
    expect(saved.fingerprint).toBe(certA.fingerprint);
    expect(saved.certificate?.replace(/\s/g, '')).toBe(certA.cert.replace(/\s/g, ''));
    const me = await cli.json<{ name: string }>(['whoami']);
    expect(me.name).toBe('admin');
    expect(fake.sent('GET', '/auth/whoami')).toHaveLength(1);
    removeDir(cli.config);
  });

  it('login with a fingerprint that does not match exits 10 and sends nothing', async () => {
    const fake = await serve(certA);
    const cli = new Cli(fake.url);
    const r = await cli.run(['login', '--fingerprint', certB.fingerprint], {
      LIFEBOAT_LOGIN_PASSWORD: 'admin-secret',
    });
    expectApplianceFailure(r, 10, new RegExp(`presents a certificate with SHA-256 ${certA.fingerprint}`));
    expect(fake.requests).toHaveLength(0);
    removeDir(cli.config);
  });

  it('a first login without --fingerprint and no terminal is refused (exit 10), showing the fingerprint', async () => {
    const fake = await serve(certA);
    const cli = new Cli(fake.url);
    const r = await cli.run(['login'], { LIFEBOAT_LOGIN_PASSWORD: 'admin-secret' });
    expectApplianceFailure(r, 10, new RegExp(`pass --fingerprint ${certA.fingerprint}`));
    expect(fake.requests).toHaveLength(0);
    removeDir(cli.config);
  });

  it('a changed certificate is refused with exit 10 and no request reaches the impostor', async () => {
    const real = await serve(certA);
    const cli = new Cli(real.url);
    await cli.login('admin', 'admin-secret', ['--fingerprint', certA.fingerprint]);
    const port = real.port;
    await real.stop();
    const impostor = await serve(certB, port);
    for (const args of [['whoami'], ['user', 'list'], ['user', 'add', 'eve', '--role', 'viewer']]) {
      const r = await cli.run(args, { LIFEBOAT_NEW_PASSWORD: 'pw' });
      expectApplianceFailure(
        r,
        10,
        new RegExp(
          `certificate changed \\(saved SHA-256 ${certA.fingerprint}, now ${certB.fingerprint}\\): .*lifeboat login --server ${impostor.url} --fingerprint ${certB.fingerprint}`,
        ),
      );
    }
    // A second login without --fingerprint is refused the same way (the saved pin stands).
    const again = await cli.run(['login'], { LIFEBOAT_LOGIN_PASSWORD: 'admin-secret' });
    expectApplianceFailure(again, 10, /certificate changed/);
    expect(impostor.tlsHandshakes).toBeGreaterThan(0);
    expect(impostor.requests).toHaveLength(0);
    // The operator accepts the new certificate explicitly.
    await cli.login('admin', 'admin-secret', ['--fingerprint', certB.fingerprint]);
    expect(cli.credentials().servers[impostor.url]!.fingerprint).toBe(certB.fingerprint);
    removeDir(cli.config);
  });

  it('LIFEBOAT_TOKEN with LIFEBOAT_FINGERPRINT works without a saved login; without a pin it is refused', async () => {
    const fake = await serve(certA);
    const cli = new Cli(fake.url);
    const token = fake.issueToken('admin');
    const me = await cli.json<{ name: string }>(['whoami'], {
      LIFEBOAT_TOKEN: token,
      LIFEBOAT_FINGERPRINT: certA.fingerprint,
    });
    expect(me.name).toBe('admin');
    const wrong = await cli.run(['whoami'], {
      LIFEBOAT_TOKEN: token,
      LIFEBOAT_FINGERPRINT: certB.fingerprint,
    });
    expectApplianceFailure(wrong, 10, /certificate changed/);
    const none = await cli.run(['whoami'], { LIFEBOAT_TOKEN: token });
    expectApplianceFailure(none, 10, /no pinned certificate/);
    expect(fake.requests).toHaveLength(1);
    removeDir(cli.config);
  });

  it.skipIf(!HAS_SCRIPT)(
    'at a terminal, a first login shows the fingerprint and pins it once confirmed',
    async () => {
      const fake = await serve(certA);
      const cli = new Cli(fake.url);
      const refused = await loginAtTerminal(cli, 'n');
      expect(refused.output).toContain(`SHA-256: ${certA.fingerprint}`);
      expect(refused.output).toContain('not trusted: nothing was sent');
      expect(refused.code).not.toBe(0);
      expect(fake.requests).toHaveLength(0);
      const trusted = await loginAtTerminal(cli, 'y');
      expect(trusted.output).toContain(`logged in to ${fake.url} as admin`);
      expect(trusted.code).toBe(0);
      expect(cli.credentials().servers[fake.url]!.fingerprint).toBe(certA.fingerprint);
      removeDir(cli.config);
    },
  );

  it('a malformed --fingerprint is a usage error', async () => {
    const fake = await serve(certA);
    const cli = new Cli(fake.url);
    const r = await cli.run(['login', '--fingerprint', 'AB:CD'], { LIFEBOAT_LOGIN_PASSWORD: 'x' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('is not a SHA-256 fingerprint');
    removeDir(cli.config);
  });
});
