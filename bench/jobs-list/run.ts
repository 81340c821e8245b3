/**
 * `npx tsx bench/jobs-list/run.ts [--jobs N] [--rounds N]`: what a page of `GET /admin/v1/jobs` costs on
 * BullMQ when the queue holds N jobs (default 10,000), in Redis (`TEST_REDIS_URL`) under a prefix of its
 * own, removed at the end.
 *
 * Per round, side by side: a page of 50 from `BullJobQueue.list` (the first page, and one from the middle
 * by cursor); the floor of reading the same 50 jobs by id (`get`, what any page costs at least); and
 * reading every job in full (`Queue.getJobs` over the whole list, what cutting the page from full jobs
 * would cost). Median ms of each and the ratios to the floor.
 */

import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { BullJobQueue } from '../../src/jobs/bullmq-job-queue.js';
import { createLogger } from '../../src/logging/logger.js';
import { TEST_REDIS_URL } from '../../test/setup/hooks.js';
import { log } from '../lib/log.js';
import { median } from '../lib/stats.js';

const { values } = parseArgs({
  options: { jobs: { type: 'string', default: '10000' }, rounds: { type: 'string', default: '7' } },
});
const JOBS = Number(values.jobs);
const ROUNDS = Number(values.rounds);
if (!(Number.isInteger(JOBS) && JOBS > 100 && Number.isInteger(ROUNDS) && ROUNDS > 0)) {
  throw new Error('--jobs must be an integer above 100 and --rounds a positive integer');
}
const QUEUE = 'tenant-backup';
const PAGE = 50;

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

const prefix = `bench-jobs-${randomBytes(4).toString('hex')}`;
const jobs = new BullJobQueue({
  redisUrl: TEST_REDIS_URL,
  prefix,
  queues: [QUEUE],
  logger: createLogger('silent'),
});
const connection = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
const raw = new Queue(QUEUE, { connection, prefix });
try {
  log(`enqueuing ${JOBS} jobs`);
  for (let n = 0; n < JOBS; n += 500) {
    await Promise.all(
      Array.from({ length: Math.min(500, JOBS - n) }, (_, i) =>
        jobs.enqueue(QUEUE, { tenantId: `tenant-${n + i}` }, { jobId: `job-${n + i}` }),
      ),
    );
  }
  const first = await jobs.list({ limit: PAGE });
  const all = await jobs.list({ limit: JOBS });
  const cut = all[Math.floor(JOBS / 2)]!;
  if (first.length !== PAGE || all.length !== JOBS) throw new Error('listed wrong');
  const times = {
    first: [] as number[],
    middle: [] as number[],
    floor: [] as number[],
    full: [] as number[],
  };
  for (let round = 0; round < ROUNDS; round++) {
    times.first.push(await timed(() => jobs.list({ limit: PAGE })));
    times.middle.push(await timed(() => jobs.list({ limit: PAGE, after: cut })));
    times.floor.push(await timed(() => Promise.all(first.map((job) => jobs.get(QUEUE, job.id)))));
    times.full.push(await timed(() => raw.getJobs(['wait'], 0, -1)));
  }
  const floor = median(times.floor);
  const row = (name: string, list: number[]) =>
    `${name.padEnd(44)} ${median(list).toFixed(1).padStart(8)} ms  ×${(median(list) / floor).toFixed(1)}`;
  console.log(`${JOBS} waiting jobs, ${ROUNDS} rounds, median ms and ratio to the floor`);
  console.log(row('list: first page of 50', times.first));
  console.log(row('list: a page of 50 from the middle (cursor)', times.middle));
  console.log(row('floor: the same 50 jobs read by id', times.floor));
  console.log(row('every job read in full (getJobs)', times.full));
} finally {
  await raw.obliterate({ force: true }).catch(() => {});
  await raw.close();
  await jobs.close();
  connection.disconnect();
}
