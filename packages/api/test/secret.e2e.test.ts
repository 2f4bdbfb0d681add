/**
 * Issue 16, end to end with real processes: `lifeboat server init` makes the appliance's secret and writes its
 * recovery phrase to a new 0600 file; a value sealed under appliance A's secret opens in a new data folder B
 * initialised from that phrase (with a copy of A's catalog: no new administrator asked); a rotation keeps old
 * values readable, is audited, and the newest phrase with a copy of secret.json recovers the older key;
 * `recovery-phrase` refuses a non-terminal stdout without --file; and the phrase never reaches the logs.
 */
import { copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readKeyRing } from '@lifeboat/appliance';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ADMIN_PASSWORD,
  Api,
  ApplianceProcess,
  lifeboat,
  oneLineError,
  type RunResult,
  stopAll,
  tempDir,
} from './appliance-process.js';

afterAll(stopAll);

const PHRASE = /LB1-(?:[A-Z2-9]{4}-){12}[A-Z2-9]{4}/;
const work = tempDir('secret');
const A = join(work, 'a');
const B = join(work, 'b');
const phrases: string[] = [];

function phraseIn(file: string): string {
  const text = readFileSync(file, 'utf8').trim();
  expect(text).toMatch(new RegExp(`^${PHRASE.source}$`));
  expect(statSync(file).mode & 0o777).toBe(0o600);
  return text;
}

/** Neither output of a run, nor the appliance's logs, hold any phrase or secret. */
function noPhraseIn(...outputs: string[]): void {
  for (const out of outputs) expect(out).not.toMatch(PHRASE);
}

function ok(r: RunResult): RunResult {
  expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
  return r;
}

describe("the appliance's secret, across appliances", () => {
  let beforeRotation = '';
  let afterRotation = '';
  let firstKey = '';

  it('init writes the recovery phrase to a new 0600 file, never to its output', async () => {
    const r = ok(
      await lifeboat(['server', 'init', '--data', A, '--recovery-phrase-file', join(work, 'phrase-1')], {
        LIFEBOAT_ADMIN_PASSWORD: ADMIN_PASSWORD,
      }),
    );
    phrases.push(phraseIn(join(work, 'phrase-1')));
    noPhraseIn(r.stdout, r.stderr);
    expect(r.stdout).toMatch(/appliance secret made in .* \(key [0-9a-f]{8}\)/);
    expect(statSync(join(A, 'secret.json')).mode & 0o777).toBe(0o600);
    const { ring } = await readKeyRing(A);
    firstKey = ring.currentId;
    beforeRotation = ring.seal('account-credentials', 'AKIA before rotation');
  });

  it('init refuses to replace an existing secret, and an existing phrase file', async () => {
    const before = readFileSync(join(A, 'secret.json'), 'utf8');
    const again = await lifeboat(['server', 'init', '--data', A, '--recovery-phrase-file', join(work, 'x')]);
    expect(again.code).toBe(2);
    expect(oneLineError(again.stderr)).toMatch(/has an appliance secret already: init never replaces it/);
    const exists = await lifeboat([
      'server',
      'init',
      '--data',
      join(work, 'never'),
      '--recovery-phrase-file',
      join(work, 'phrase-1'),
    ]);
    expect(exists.code).toBe(2);
    expect(oneLineError(exists.stderr)).toMatch(/phrase-1 exists: give a new file/);
    expect(readFileSync(join(A, 'secret.json'), 'utf8')).toBe(before);
  });

  it('the running appliance uses that secret and logs no phrase', async () => {
    const server = await ApplianceProcess.start({ data: A, adminPassword: null });
    await new Api(server.api).login('admin', ADMIN_PASSWORD);
    const busy = await lifeboat(['server', 'rotate-secret', '--data', A]);
    expect(busy.code).toBe(6);
    oneLineError(busy.stderr);
    await server.stop();
    noPhraseIn(server.stdout, server.stderr);
    expect(server.stderr).not.toMatch(/a new appliance secret was made/);
  });

  it('rotate-secret makes a new current key, keeps the old one, and is audited without secrets', async () => {
    const r = ok(
      await lifeboat([
        'server',
        'rotate-secret',
        '--data',
        A,
        '--recovery-phrase-file',
        join(work, 'phrase-2'),
      ]),
    );
    noPhraseIn(r.stdout, r.stderr);
    phrases.push(phraseIn(join(work, 'phrase-2')));
    expect(phrases[1]).not.toBe(phrases[0]);
    const { ring } = await readKeyRing(A);
    expect(ring.currentId).not.toBe(firstKey);
    expect(ring.open('account-credentials', beforeRotation).toString()).toBe('AKIA before rotation');
    afterRotation = ring.seal('account-credentials', 'AKIA after rotation');

    const server = await ApplianceProcess.start({ data: A, adminPassword: null });
    const api = new Api(server.api);
    const token = await api.login('admin', ADMIN_PASSWORD);
    const audit = await api.call<{ items: Array<Record<string, unknown>> }>(
      'GET',
      '/audit?action=secret.rotate',
      {
        token,
      },
    );
    expect(audit.status).toBe(200);
    expect(audit.body.items).toHaveLength(1);
    expect(audit.body.items[0]).toMatchObject({
      actor: null,
      action: 'secret.rotate',
      target: ring.currentId,
      details: { previousKey: firstKey, key: ring.currentId },
    });
    noPhraseIn(audit.text);
    expect(audit.text).not.toContain(ring.current.secret.toString('base64'));
    // a copy of the catalog for the new appliance, taken while A runs
    mkdirSync(B, { recursive: true });
    ok(await lifeboat(['server', 'backup-catalog', join(B, 'catalog.db'), '--data', A]));
    await server.stop();
    noPhraseIn(server.stdout, server.stderr);
  });

  it("a new appliance restored from the newest phrase and the catalog copy reads the first one's credentials", async () => {
    copyFileSync(join(A, 'secret.json'), join(work, 'secret-copy.json'));
    const r = ok(
      await lifeboat([
        'server',
        'init',
        '--data',
        B,
        '--from-recovery-phrase-file',
        join(work, 'phrase-2'),
        '--older-keys-from',
        join(work, 'secret-copy.json'),
      ]),
    );
    noPhraseIn(r.stdout, r.stderr);
    expect(r.stdout).toMatch(/appliance secret restored in .* \(key [0-9a-f]{8}, 2 keys\)/);
    expect(r.stdout).toMatch(/has users already: no new administrator/);
    const a = await readKeyRing(A);
    const b = await readKeyRing(B);
    expect(b.ring.keys.map((k) => k.id)).toEqual(a.ring.keys.map((k) => k.id));
    expect(b.ring.open('account-credentials', beforeRotation).toString()).toBe('AKIA before rotation');
    expect(b.ring.open('account-credentials', afterRotation).toString()).toBe('AKIA after rotation');
    // B serves with A's users and the restored secret
    const server = await ApplianceProcess.start({ data: B, adminPassword: null });
    await new Api(server.api).login('admin', ADMIN_PASSWORD);
    await server.stop();
    noPhraseIn(server.stdout, server.stderr);
    expect(server.stderr).not.toMatch(/a new appliance secret was made/);
  });

  it('a phrase alone restores only the key it encodes', async () => {
    const C = join(work, 'c');
    ok(
      await lifeboat(['server', 'init', '--data', C, '--from-recovery-phrase-file', join(work, 'phrase-1')], {
        LIFEBOAT_ADMIN_PASSWORD: ADMIN_PASSWORD,
      }),
    );
    const { ring } = await readKeyRing(C);
    expect(ring.currentId).toBe(firstKey);
    expect(ring.open('account-credentials', beforeRotation).toString()).toBe('AKIA before rotation');
    expect(() => ring.open('account-credentials', afterRotation)).toThrow(
      /sealed by a key this appliance does not have/,
    );
  });

  it('recovery-phrase refuses a non-terminal stdout without --file; --file writes the current phrase, 0600', async () => {
    const piped = await lifeboat(['server', 'recovery-phrase', '--data', A]);
    expect(piped.code).toBe(2);
    expect(oneLineError(piped.stderr)).toMatch(/shown at a terminal only: give --file/);
    noPhraseIn(piped.stdout, piped.stderr);
    const r = ok(
      await lifeboat(['server', 'recovery-phrase', '--data', A, '--file', join(work, 'phrase-3')]),
    );
    noPhraseIn(r.stdout, r.stderr);
    expect(phraseIn(join(work, 'phrase-3'))).toBe(phrases[1]);
    const exists = await lifeboat([
      'server',
      'recovery-phrase',
      '--data',
      A,
      '--file',
      join(work, 'phrase-3'),
    ]);
    expect(exists.code).toBe(2);
    const none = await lifeboat([
      'server',
      'recovery-phrase',
      '--data',
      join(work, 'none'),
      '--file',
      join(work, 'p'),
    ]);
    expect(none.code).toBe(5);
    expect(oneLineError(none.stderr)).toMatch(/has no appliance secret yet/);
  });

  it('a first start without init makes the secret and, not at a terminal, only says where to see the phrase', async () => {
    const D = join(work, 'd');
    const server = await ApplianceProcess.start({ data: D });
    await server.stop();
    expect(server.stderr).toContain(
      `a new appliance secret was made: see it with \`lifeboat server recovery-phrase --data ${D}\``,
    );
    noPhraseIn(server.stdout, server.stderr);
    ok(await lifeboat(['server', 'recovery-phrase', '--data', D, '--file', join(work, 'phrase-d')]));
    const phrase = phraseIn(join(work, 'phrase-d'));
    expect(server.stdout + server.stderr).not.toContain(phrase);
  });

  it('a first start that fails for want of an administrator still says where the new phrase is', async () => {
    const F = join(work, 'f');
    const r = await lifeboat(['server', '--data', F, '--listen', '127.0.0.1:0']);
    expect(r.code).toBe(2);
    expect(oneLineError(r.stderr)).toMatch(/no administrator yet/);
    expect(r.stderr).toContain(
      `a new appliance secret was made: see it with \`lifeboat server recovery-phrase --data ${F}\``,
    );
    noPhraseIn(r.stdout, r.stderr);
    const init = ok(
      await lifeboat(['server', 'init', '--data', F], { LIFEBOAT_ADMIN_PASSWORD: ADMIN_PASSWORD }),
    );
    expect(init.stderr).toMatch(/has its appliance secret already: see its recovery phrase with/);
    expect(init.stdout).toMatch(/administrator admin created/);
  });

  it('a damaged secret file stops the appliance with one line and exit 3, and is left as it is', async () => {
    const E = join(work, 'e');
    ok(await lifeboat(['server', 'init', '--data', E], { LIFEBOAT_ADMIN_PASSWORD: ADMIN_PASSWORD }));
    writeFileSync(join(E, 'secret.json'), '{"format":2,"current":');
    const r = await lifeboat(['server', '--data', E, '--listen', '127.0.0.1:0'], {
      LIFEBOAT_ADMIN_PASSWORD: ADMIN_PASSWORD,
    });
    expect(r.code).toBe(3);
    expect(oneLineError(r.stderr)).toMatch(/secret\.json is damaged .*\[SECRET_DAMAGED\]/);
    expect(readFileSync(join(E, 'secret.json'), 'utf8')).toBe('{"format":2,"current":');
  });
});
