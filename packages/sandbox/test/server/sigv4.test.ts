import { ListSnapshotBlocksCommand, StartSnapshotCommand } from '@aws-sdk/client-ebs';
import { DescribeRegionsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { KMSClient, ListKeysCommand } from '@aws-sdk/client-kms';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Account } from '../../src/core/model.js';
import type { RunningSandbox } from '../../src/index.js';
import {
  BLOCK_SIZE,
  b64sha,
  block,
  ebs,
  expectAwsError,
  expectBytes,
  Sha256,
  sandbox,
  sha256,
} from '../ebs/helpers.js';

let sb: RunningSandbox;
let snap: string;

beforeAll(async () => {
  sb = await sandbox();
  const vol = sb.createVolume({
    accountId: '111111111111',
    region: 'us-east-1',
    az: 'us-east-1a',
    sizeGiB: 1,
  });
  sb.writeVolume(vol.volumeId, 3 * BLOCK_SIZE, block(9));
  snap = sb.snapshotVolume(vol.volumeId).snapshotId;
});
afterAll(() => sb.close());

const owner = () => sb.accounts[0] as Account;
const fakeAccount = (over: Partial<Account>): Account => ({ ...owner(), ...over });

interface Raw {
  method?: string;
  path: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: Buffer;
  service?: string;
  region?: string;
  account?: Account;
  presign?: { expiresIn: number; signingDate?: Date };
}

/** A request signed by the SDK's own signer (@smithy/signature-v4), sent with fetch. */
async function signedFetch(r: Raw): Promise<Response> {
  const url = new URL(sb.endpoint);
  const account = r.account ?? owner();
  const signer = new SignatureV4({
    service: r.service ?? 'ebs',
    region: r.region ?? 'us-east-1',
    credentials: { accessKeyId: account.accessKeyId, secretAccessKey: account.secretAccessKey },
    sha256: Sha256,
  });
  const request = {
    method: r.method ?? 'GET',
    protocol: 'http:',
    hostname: url.hostname,
    port: Number(url.port),
    path: r.path,
    query: r.query ?? {},
    headers: { host: url.host, ...r.headers },
    body: r.body,
  };
  const s = r.presign ? await signer.presign(request, r.presign) : await signer.sign(request);
  const qs = Object.entries(s.query ?? {})
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join('&');
  const headers = Object.fromEntries(Object.entries(s.headers).filter(([k]) => k !== 'host'));
  return fetch(`${sb.endpoint}${r.path}${qs ? `?${qs}` : ''}`, {
    method: request.method,
    headers,
    body: r.body,
  });
}

describe('SigV4 verification', () => {
  it('answers a wrong secret and an unknown key as AWS does, per protocol', async () => {
    const wrongSecret = fakeAccount({ secretAccessKey: 'x'.repeat(40) });
    const unknownKey = fakeAccount({ accessKeyId: 'AKIAUNKNOWN000000000' });
    const list = new ListSnapshotBlocksCommand({ SnapshotId: snap });
    await expectAwsError(ebs(sb, wrongSecret).send(list), 'InvalidSignatureException', undefined, 403);
    await expectAwsError(ebs(sb, unknownKey).send(list), 'UnrecognizedClientException', undefined, 403);
    const ec2 = (a: Account) =>
      new EC2Client({
        endpoint: sb.endpoint,
        region: 'us-east-1',
        credentials: { accessKeyId: a.accessKeyId, secretAccessKey: a.secretAccessKey },
        maxAttempts: 1,
      });
    // EC2 answers both with AuthFailure (401), and the same message.
    for (const a of [wrongSecret, unknownKey]) {
      const e = await expectAwsError(
        ec2(a).send(new DescribeRegionsCommand({})),
        'AuthFailure',
        undefined,
        401,
      );
      expect((e as unknown as Error).message).toBe(
        'AWS was not able to validate the provided access credentials',
      );
    }
    // STS and KMS keep their own codes.
    const config = (a: Account) => ({
      endpoint: sb.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: a.accessKeyId, secretAccessKey: a.secretAccessKey },
      maxAttempts: 1,
    });
    const sts = (a: Account) => new STSClient(config(a)).send(new GetCallerIdentityCommand({}));
    const kms = (a: Account) => new KMSClient(config(a)).send(new ListKeysCommand({}));
    await expectAwsError(sts(wrongSecret), 'SignatureDoesNotMatch', undefined, 403);
    await expectAwsError(sts(unknownKey), 'InvalidClientTokenId', undefined, 403);
    await expectAwsError(kms(wrongSecret), 'InvalidSignatureException', undefined, 400);
    await expectAwsError(kms(unknownKey), 'UnrecognizedClientException', undefined, 400);
  });

  it('answers EC2 requests signed for a region it does not serve with AuthFailure', async () => {
    const mars = await signedFetch({
      method: 'POST',
      path: '/',
      service: 'ec2',
      region: 'mars-east-1',
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
      body: Buffer.from('Action=DescribeRegions&Version=2016-11-15'),
    });
    expect(mars.status).toBe(401);
    expect(await mars.text()).toContain(
      '<Code>AuthFailure</Code><Message>AWS was not able to validate the provided access credentials</Message>',
    );
  });

  it('refuses requests signed too far from its clock', async () => {
    const skewed = ebs(sb, owner(), { systemClockOffset: -30 * 60_000 });
    const e = await expectAwsError(
      skewed.send(new ListSnapshotBlocksCommand({ SnapshotId: snap })),
      'InvalidSignatureException',
    );
    expect((e as unknown as Error).message).toMatch(/Signature expired/);
  });

  it('gives every answer a request id the SDK reads', async () => {
    const r = await ebs(sb).send(new ListSnapshotBlocksCommand({ SnapshotId: snap }));
    expect(r.$metadata.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('accepts presigned URLs until they expire', async () => {
    const list = await signedFetch({ path: `/snapshots/${snap}/blocks`, presign: { expiresIn: 60 } });
    expect(list.status).toBe(200);
    const token = ((await list.json()) as { Blocks: Array<{ BlockToken: string }> }).Blocks[0]
      ?.BlockToken as string;
    const get = await signedFetch({
      path: `/snapshots/${snap}/blocks/3`,
      query: { blockToken: token },
      presign: { expiresIn: 60 },
    });
    expect(get.status).toBe(200);
    expect(get.headers.get('x-amz-checksum')).toBe(b64sha(block(9)));
    expectBytes(Buffer.from(await get.arrayBuffer()), block(9));
    const old = await signedFetch({
      path: `/snapshots/${snap}/blocks`,
      presign: { expiresIn: 60, signingDate: new Date(Date.now() - 3600_000) },
    });
    expect(old.status).toBe(403);
    expect(old.headers.get('x-amzn-errortype')).toBe('InvalidSignatureException');
    expect(await old.text()).toMatch(/expired/);
  });

  it('refuses unsigned, tampered, unknown-service and unknown-region requests', async () => {
    const bare = await fetch(`${sb.endpoint}/snapshots/${snap}/blocks`);
    expect(bare.status).toBe(403);
    expect(bare.headers.get('x-amzn-errortype')).toBe('MissingAuthenticationTokenException');
    const signer = await signedFetch({
      path: `/snapshots/${snap}/blocks`,
      query: { maxResults: '100' },
      presign: { expiresIn: 60 },
    });
    expect(signer.status).toBe(200);
    const url = new URL(signer.url);
    url.searchParams.set('maxResults', '200');
    expect((await fetch(url)).status).toBe(403);
    const foo = await signedFetch({ path: '/', service: 'foo' });
    expect(foo.status).toBe(400);
    expect(await foo.text()).toMatch(/does not serve 'foo'/);
    const mars = await signedFetch({ path: `/snapshots/${snap}/blocks`, region: 'mars-east-1' });
    expect(mars.status).toBe(403);
    expect(await mars.text()).toMatch(/valid region/);
  });

  it('verifies x-amz-content-sha256, and accepts unsigned and streaming payload markers', async () => {
    const { SnapshotId } = await ebs(sb).send(new StartSnapshotCommand({ VolumeSize: 1 }));
    const data = block(3);
    const put = (contentSha: string, index: number) =>
      signedFetch({
        method: 'PUT',
        path: `/snapshots/${SnapshotId}/blocks/${index}`,
        body: data,
        headers: {
          'content-type': 'application/octet-stream',
          'x-amz-content-sha256': contentSha,
          'x-amz-data-length': String(BLOCK_SIZE),
          'x-amz-checksum': b64sha(data),
          'x-amz-checksum-algorithm': 'SHA256',
        },
      });
    expect((await put(sha256(data).toString('hex'), 0)).status).toBe(201);
    expect((await put('UNSIGNED-PAYLOAD', 1)).status).toBe(201);
    expect((await put('STREAMING-UNSIGNED-PAYLOAD-TRAILER', 2)).status).toBe(201);
    const lie = await put(sha256(block(4)).toString('hex'), 3);
    expect(lie.status).toBe(403);
  });
});
