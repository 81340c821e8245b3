import { DecryptCommand, GenerateDataKeyCommand, KMSClient, type KMSClientConfig } from '@aws-sdk/client-kms';
import { ConfigError, KeyUnwrapError, TenantplaneError, UnavailableError } from '../errors/index.js';
import { awsErrorName, isTransientAwsError } from './aws-errors.js';
import type { DataKey, EncryptionContext, KeyProvider } from './key-provider.js';

export interface KmsKeyProviderOptions {
  /** The KMS key (id, ARN or alias) that wraps new data keys. */
  keyId: string;
  /**
   * Extra KMS client settings. Region, endpoint and credentials otherwise come from the SDK's standard
   * environment (`AWS_REGION`, `AWS_ENDPOINT_URL_KMS`, `AWS_ENDPOINT_URL`, ...).
   */
  client?: KMSClientConfig;
}

/** KMS answers that mean this wrapped key will not open under this key and context, however often asked. */
const UNWRAP_FAILURES = new Set([
  'InvalidCiphertextException',
  'IncorrectKeyException',
  'AccessDeniedException',
]);
/** The key exists but cannot be used now; an operator must act (enable it, cancel its deletion). */
const KEY_UNUSABLE = new Set([
  'NotFoundException',
  'DisabledException',
  'KMSInvalidStateException',
  'InvalidKeyUsageException',
]);

/**
 * Envelope encryption's master key in AWS KMS: KMS makes each data key and unwraps it, bound to the
 * encryption context, so a wrapped key opens only for the tenant and backup it was made for. The SDK
 * retries a little (3 attempts, short timeouts); what still fails for a transient reason becomes
 * UnavailableError `kms_unavailable`, which jobs retry with their own backoff.
 */
export class KmsKeyProvider implements KeyProvider {
  private readonly client: KMSClient;
  private readonly keyId: string;

  constructor(options: KmsKeyProviderOptions) {
    if (!options.keyId.trim()) throw new ConfigError('KMS_KEY_ID is empty');
    this.keyId = options.keyId;
    this.client = new KMSClient({
      maxAttempts: 3,
      requestHandler: { connectionTimeout: 3000, requestTimeout: 10_000 },
      ...options.client,
    });
  }

  async generateDataKey(context: EncryptionContext): Promise<DataKey> {
    try {
      const response = await this.client.send(
        new GenerateDataKeyCommand({ KeyId: this.keyId, KeySpec: 'AES_256', EncryptionContext: context }),
      );
      return {
        plaintext: Buffer.from(response.Plaintext!),
        wrapped: Buffer.from(response.CiphertextBlob!),
        // KMS answers with the key's ARN: stored with the data, it names the key even if an alias moves.
        keyId: response.KeyId ?? this.keyId,
      };
    } catch (error) {
      throw this.mapped('generate a data key', error);
    }
  }

  async decryptDataKey(wrapped: Buffer, keyId: string, context: EncryptionContext): Promise<Buffer> {
    try {
      const response = await this.client.send(
        new DecryptCommand({ CiphertextBlob: wrapped, KeyId: keyId, EncryptionContext: context }),
      );
      return Buffer.from(response.Plaintext!);
    } catch (error) {
      throw this.mapped('unwrap a data key', error, keyId);
    }
  }

  close(): void {
    this.client.destroy();
  }

  private mapped(what: string, error: unknown, keyId = this.keyId): Error {
    const name = awsErrorName(error) ?? 'Error';
    if (UNWRAP_FAILURES.has(name)) {
      return new KeyUnwrapError(
        `KMS refused to ${what} with key ${keyId} (${name}): wrong key, wrong encryption context or no permission`,
        error,
      );
    }
    if (KEY_UNUSABLE.has(name)) {
      const message = `KMS key ${keyId} cannot be used now (${name})`;
      return new TenantplaneError('kms_key_unusable', 'conflict', message, { cause: error });
    }
    if (isTransientAwsError(error)) {
      return new UnavailableError(`KMS is unavailable; could not ${what}`, 'kms_unavailable', {
        cause: error,
        retryAfterSeconds: 5,
      });
    }
    const message = `KMS could not ${what} with key ${keyId} (${name})`;
    return new TenantplaneError('kms_failed', 'bad_gateway', message, { cause: error });
  }
}
