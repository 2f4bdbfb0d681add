import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../src/index.js';
import { AWS_CLI, awsJson, runAws, warnIfMissing } from '../awscli/aws-cli.js';
import { b64sha, block, expectBytes, sandbox } from './helpers.js';

/**
 * A second client must agree with the sandbox's EBS direct API: the AWS CLI v2 (Debian's awscli, botocore's own
 * SigV4 signer and restJson parser) writes a snapshot, lists it, diffs it and reads a block back.
 */
const AWS = AWS_CLI;
warnIfMissing('awscli EBS smoke test');

let sb: RunningSandbox;
let work: string;

const cli = (args: string[]) => runAws(sb, ['ebs', ...args], work);
const json = (args: string[]) => awsJson(sb, ['ebs', ...args], work);

describe.skipIf(!AWS)('AWS CLI against the EBS direct API', () => {
  beforeAll(async () => {
    sb = await sandbox();
    work = mkdtempSync(join(tmpdir(), 'awscli-ebs-'));
  });
  afterAll(async () => {
    await sb?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('writes, lists, diffs and reads snapshots; reports errors', { timeout: 120_000 }, async () => {
    const started = await json(['start-snapshot', '--volume-size', '1', '--description', 'cli']);
    expect(started).toMatchObject({ Status: 'pending', VolumeSize: 1, BlockSize: 524288 });
    const id = started.SnapshotId as string;
    const file = join(work, 'block');
    writeFileSync(file, block(77));
    const put = await json([
      'put-snapshot-block',
      ...['--snapshot-id', id, '--block-index', '5', '--block-data', file],
      ...['--data-length', '524288', '--checksum', b64sha(block(77)), '--checksum-algorithm', 'SHA256'],
    ]);
    expect(put.Checksum).toBe(b64sha(block(77)));
    expect(
      (await json(['complete-snapshot', '--snapshot-id', id, '--changed-blocks-count', '1'])).Status,
    ).toBe('completed');
    const list = (await json(['list-snapshot-blocks', '--snapshot-id', id])) as {
      Blocks: Array<{ BlockIndex: number; BlockToken: string }>;
    };
    expect(list.Blocks.map((b) => b.BlockIndex)).toEqual([5]);
    const changed = (await json(['list-changed-blocks', '--second-snapshot-id', id])) as {
      ChangedBlocks: Array<{ BlockIndex: number }>;
    };
    expect(changed.ChangedBlocks.map((b) => b.BlockIndex)).toEqual([5]);
    const out = join(work, 'out');
    const got = await json([
      'get-snapshot-block',
      ...[
        '--snapshot-id',
        id,
        '--block-index',
        '5',
        '--block-token',
        list.Blocks[0]?.BlockToken as string,
        out,
      ],
    ]);
    expect(got).toMatchObject({ Checksum: b64sha(block(77)), ChecksumAlgorithm: 'SHA256' });
    expect(Number(got.DataLength)).toBe(524288); // the CLI prints this header member as a string
    expectBytes(readFileSync(out), block(77));
    const missing = await cli(['list-snapshot-blocks', '--snapshot-id', 'snap-0123456789abcdef0']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/ResourceNotFoundException/);
  });
});
