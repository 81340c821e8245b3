import { Redis } from 'ioredis';
import { ConfigError, UnavailableError } from '../errors/index.js';

/**
 * BullMQ keeps jobs, locks and retries in Redis; a Redis that evicts keys under memory pressure silently
 * loses queued jobs. Production refuses to start on one (development only warns through the return value).
 */
export async function checkRedisEvictionPolicy(
  redisUrl: string,
  options: { production: boolean },
): Promise<string> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 5000 });
  let policy: string;
  try {
    await redis.connect();
    const answer = (await redis.config('GET', 'maxmemory-policy')) as string[];
    policy = answer[1] ?? 'unknown';
  } catch (error) {
    throw new UnavailableError(
      `cannot read Redis's maxmemory-policy: ${(error as Error).message}`,
      'redis_unreachable',
      {
        cause: error,
      },
    );
  } finally {
    redis.disconnect();
  }
  if (options.production && policy !== 'noeviction') {
    throw new ConfigError(
      `REDIS_URL points at a Redis with maxmemory-policy ${policy}: set it to noeviction (CONFIG SET maxmemory-policy noeviction, or in redis.conf), or queued jobs can be lost`,
    );
  }
  return policy;
}
