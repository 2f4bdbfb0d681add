import { expect } from 'vitest';

/** Asserts that a call failed with AWS's error code (the name SDK v3 exceptions carry) and HTTP status. */
export async function expectAwsError(p: Promise<unknown>, code: string, status = 400): Promise<Error> {
  try {
    await p;
  } catch (e) {
    const err = e as Error & { $metadata?: { httpStatusCode?: number }; Code?: string };
    expect(err.name, err.message).toBe(code);
    expect(err.$metadata?.httpStatusCode).toBe(status);
    return err;
  }
  throw new Error(`expected ${code}, but the call succeeded`);
}
