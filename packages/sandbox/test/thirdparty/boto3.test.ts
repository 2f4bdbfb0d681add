import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningSandbox, startSandbox } from '../../src/index.js';
import { run } from './helpers.js';

/** Debian's boto3 (python3-boto3, on Debian's own botocore): another client that must agree with the sandbox. */
const PYTHON = '/usr/bin/python3';
const hasBoto3 = spawnSync(PYTHON, ['-c', 'import boto3'], { timeout: 30_000 }).status === 0;
if (!hasBoto3)
  console.warn(
    'boto3 tests skipped: no boto3 for /usr/bin/python3 (apt-get install -y python3-boto3, or scripts/install-deps.sh)',
  );
const SCRIPT = fileURLToPath(new URL('./boto3-answers.py', import.meta.url));

type Answer = { ok: unknown } | { code: string; message: string; status: number };

let sb: RunningSandbox;
let dir: string;
let answers: Record<string, Answer>;

const incompatible = (c: string) =>
  `The ${c} location constraint is incompatible for the region specific endpoint this request was sent to.`;
const illegal = (c: string) => ({
  code: 'IllegalLocationConstraintException',
  message: incompatible(c),
  status: 400,
});
const invalid = {
  code: 'InvalidLocationConstraint',
  message: 'The specified location-constraint is not valid',
  status: 400,
};

describe.skipIf(!hasBoto3)('boto3 against the sandbox', () => {
  beforeAll(async () => {
    sb = await startSandbox({ fast: true });
    dir = mkdtempSync(join(tmpdir(), 'lifeboat-boto3-'));
    const a = sb.accounts[0]!;
    const r = await run(PYTHON, [SCRIPT, sb.endpoint, a.accessKeyId, a.secretAccessKey], {
      PATH: '/usr/bin:/bin',
      HOME: dir,
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      AWS_EC2_METADATA_DISABLED: 'true',
    });
    expect(r.code, r.stderr).toBe(0);
    answers = JSON.parse(r.stdout) as Record<string, Answer>;
  }, 120_000);
  afterAll(async () => {
    await sb?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('hears AuthFailure from EC2 for a wrong secret and an unknown key; S3, STS and KMS keep their codes', () => {
    const authFailure = {
      code: 'AuthFailure',
      message: 'AWS was not able to validate the provided access credentials',
      status: 401,
    };
    expect(answers['ec2 wrongSecret']).toEqual(authFailure);
    expect(answers['ec2 unknownKey']).toEqual(authFailure);
    expect(answers['ec2 own key']).toEqual({ ok: { n: 3 } });
    expect(answers['s3 wrongSecret']).toMatchObject({ code: 'SignatureDoesNotMatch', status: 403 });
    expect(answers['s3 unknownKey']).toEqual({
      code: 'InvalidAccessKeyId',
      message: 'The AWS Access Key Id you provided does not exist in our records.',
      status: 403,
    });
    expect(answers['sts wrongSecret']).toMatchObject({ code: 'SignatureDoesNotMatch', status: 403 });
    expect(answers['sts unknownKey']).toMatchObject({ code: 'InvalidClientTokenId', status: 403 });
    expect(answers['kms wrongSecret']).toMatchObject({ code: 'InvalidSignatureException', status: 400 });
    expect(answers['kms unknownKey']).toMatchObject({ code: 'UnrecognizedClientException', status: 400 });
  });

  it('hears CreateBucket answered as S3 answers it', () => {
    expect(answers['eu-west-1 unspecified']).toEqual(illegal('unspecified'));
    expect(answers['eu-west-1 us-west-2']).toEqual(illegal('us-west-2'));
    expect(answers['eu-west-1 us-east-1']).toEqual(illegal('us-east-1'));
    expect(answers['us-west-2 EU']).toEqual(illegal('EU'));
    expect(answers['eu-west-1 nowhere']).toEqual(invalid);
    expect(answers['us-east-1 nowhere']).toEqual(invalid);
    expect(answers['us-east-1 us-east-1']).toEqual(invalid);
    const created: Array<[string, string | null]> = [
      ['us-east-1 None', null],
      ['us-east-1 eu-west-1', 'eu-west-1'],
      ['us-east-1 EU', 'EU'],
      ['eu-west-1 eu-west-1', 'eu-west-1'],
      ['us-west-2 us-west-2', 'us-west-2'],
    ];
    for (const [call, where] of created) {
      expect(answers[`${call} create`], call).toEqual({ ok: true });
      expect(answers[`${call} location`], call).toEqual({ ok: { LocationConstraint: where } });
    }
    expect(answers['global-eu used from eu-west-1']).toEqual({ ok: { keys: 0 } });
  });
});
