import { Redis } from 'ioredis';
import { TEST_REDIS_URL } from '../setup/hooks.js';

/** Removes a test's job queue keys (`<prefix>:*`) from the test Redis: job schedulers and finished jobs would stay. */
export async function removeQueueKeys(prefix: string): Promise<void> {
  const redis = new Redis(TEST_REDIS_URL);
  try {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
  } finally {
    redis.disconnect();
  }
}
