import { RepositoryError } from '@lifeboat/repository';

/**
 * A repository location on S3: `s3:BUCKET/PREFIX` (AWS's endpoint for the region), or
 * `s3:https://HOST[:PORT]/BUCKET/PREFIX` / `s3:http://...` (any S3-compatible endpoint, the sandbox among them),
 * or `s3:HOST.NAME/BUCKET/PREFIX` (a host with a dot: https).
 */
export interface S3Location {
  endpoint?: string;
  bucket: string;
  prefix: string; // "" or ending in "/"
}

export function parseS3Location(location: string): S3Location {
  if (!location.startsWith('s3:')) throw invalid(location, 'it does not start with s3:');
  let rest = location.slice(3);
  let endpoint: string | undefined;
  const scheme = /^(https?):\/\/([^/]+)\/?/.exec(rest);
  if (scheme) {
    endpoint = `${scheme[1]}://${scheme[2]}`;
    rest = rest.slice(scheme[0].length);
  } else {
    const first = rest.split('/')[0] ?? '';
    if (first.includes('.') || first.includes(':')) {
      endpoint = `https://${first}`;
      rest = rest.slice(first.length + 1);
    }
  }
  const [bucket, ...parts] = rest.split('/').filter((p) => p !== '');
  if (!bucket || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket))
    throw invalid(location, `"${bucket ?? ''}" is not a bucket name`);
  const prefix = parts.length ? `${parts.join('/')}/` : '';
  return { ...(endpoint ? { endpoint } : {}), bucket, prefix };
}

function invalid(location: string, why: string): RepositoryError {
  return new RepositoryError(
    'INVALID_ARGUMENT',
    `"${location}" is not an S3 repository location (${why}); use s3:BUCKET/PREFIX or s3:http(s)://HOST:PORT/BUCKET/PREFIX`,
  );
}
