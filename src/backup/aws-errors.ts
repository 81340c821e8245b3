/**
 * Decides by error name and HTTP status, never by message text, whether an AWS call failed for a reason
 * that may pass (network, throttling, a 5xx): such failures become UnavailableError so jobs retry them.
 */
const TRANSIENT_NAMES = new Set([
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'SlowDown',
  'InternalError',
  'ServiceUnavailable',
  'KMSInternalException',
  'DependencyTimeoutException',
  'KeyUnavailableException',
]);

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
]);

interface AwsLikeError {
  name?: string;
  code?: string;
  cause?: unknown;
  $metadata?: { httpStatusCode?: number };
}

export function isTransientAwsError(error: unknown): boolean {
  for (let current = error as AwsLikeError | undefined, depth = 0; current && depth < 5; depth += 1) {
    if (current.name && TRANSIENT_NAMES.has(current.name)) return true;
    if (current.code && NETWORK_CODES.has(current.code)) return true;
    const status = current.$metadata?.httpStatusCode;
    if (status === 429 || (status !== undefined && status >= 500)) return true;
    current = current.cause as AwsLikeError | undefined;
  }
  return false;
}

/** The error's AWS name (`NoSuchKey`, `InvalidCiphertextException`, ...), if it has one. */
export function awsErrorName(error: unknown): string | undefined {
  return (error as AwsLikeError | undefined)?.name;
}

export function awsStatus(error: unknown): number | undefined {
  return (error as AwsLikeError | undefined)?.$metadata?.httpStatusCode;
}
