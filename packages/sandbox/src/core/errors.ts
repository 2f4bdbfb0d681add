/**
 * An error as AWS reports it: a code (the name SDK clients see), an HTTP status and a message. Each service's
 * protocol writes it in its own shape (EC2 XML, restJson with x-amzn-ErrorType, awsJson __type, S3 XML).
 */
export class AwsError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
    /** Extra members for protocols that carry them, e.g. EBS ValidationException's Reason. */
    readonly fields: Record<string, string> = {},
  ) {
    super(message);
    this.name = code;
  }
}
