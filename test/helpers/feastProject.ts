// A test's own Feast project in the shared Redis (127.0.0.1:6379): Feast's keys end with the project name, so the
// project's keys are removed by that suffix when the test is done.
import Redis from 'ioredis';

export async function dropFeastProject(project: string): Promise<void> {
  const redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
  try {
    const keys = await redis.keysBuffer(`*${project}`);
    if (keys.length) await redis.del(...keys);
  } finally {
    redis.disconnect();
  }
}
