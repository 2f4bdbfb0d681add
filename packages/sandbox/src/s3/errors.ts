import type { ServerResponse } from 'node:http';
import { AwsError } from '../core/errors.js';
import { escapeXml } from './xml.js';

/** An S3 error that also sets response headers (x-amz-delete-marker, x-amz-bucket-region, ...). */
export class S3Error extends AwsError {
  constructor(
    code: string,
    message: string,
    status: number,
    fields: Record<string, string> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(code, message, status, fields);
  }
}

export function noSuchBucket(bucket: string): AwsError {
  return new AwsError('NoSuchBucket', 'The specified bucket does not exist', 404, { BucketName: bucket });
}

export function noSuchKey(key: string, headers: Record<string, string> = {}): AwsError {
  return new S3Error('NoSuchKey', 'The specified key does not exist.', 404, { Key: key }, headers);
}

export function noSuchVersion(key: string, versionId: string): AwsError {
  return new AwsError('NoSuchVersion', 'The specified version does not exist.', 404, {
    Key: key,
    VersionId: versionId,
  });
}

export function noSuchUpload(uploadId: string): AwsError {
  return new AwsError(
    'NoSuchUpload',
    'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
    404,
    { UploadId: uploadId },
  );
}

export function accessDenied(message = 'Access Denied'): AwsError {
  return new AwsError('AccessDenied', message, 403);
}

export function invalidArgument(message: string, name: string, value: string): AwsError {
  return new AwsError('InvalidArgument', message, 400, { ArgumentName: name, ArgumentValue: value });
}

export function invalidRequest(message: string): AwsError {
  return new AwsError('InvalidRequest', message, 400);
}

export function notImplemented(
  message = 'A header you provided implies functionality that is not implemented',
): AwsError {
  return new AwsError('NotImplemented', message, 501);
}

export function preconditionFailed(condition: string): AwsError {
  return new AwsError(
    'PreconditionFailed',
    'At least one of the pre-conditions you specified did not hold',
    412,
    {
      Condition: condition,
    },
  );
}

export function lockMissing(): AwsError {
  return invalidRequest('Bucket is missing Object Lock Configuration');
}

/** The S3 error document: Code, Message, the extra members AWS adds (BucketName, Key, ...), Resource, RequestId. */
export function writeS3Error(res: ServerResponse, err: AwsError, resource: string, requestId: string): void {
  const extra = Object.entries(err.fields)
    .map(([k, v]) => `<${k}>${escapeXml(v)}</${k}>`)
    .join('');
  const body = Buffer.from(
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${escapeXml(err.code)}</Code><Message>${escapeXml(err.message)}</Message>${extra}<Resource>${escapeXml(resource)}</Resource><RequestId>${requestId}</RequestId></Error>`,
  );
  const headers = err instanceof S3Error ? err.headers : {};
  res.writeHead(err.status, {
    ...headers,
    'content-type': 'application/xml',
    'content-length': body.length,
    'x-amz-request-id': requestId,
  });
  res.end(body);
}
