// The Worker as the edge suites run it: in workerd (@cloudflare/vitest-plugin) from the root wrangler.toml, with
// local R2, KV, Durable Objects, rate limiting, Cache API and Queues, and its backend pool pointed at the stand-in's
// ports plus one port where nothing listens (so failover is always exercised). The jobs queue keeps its wrangler.toml
// shape with test-sized numbers: two retries 1 s and 2 s apart before the dead-letter queue, no batch window.
import { cloudflareTest } from '@cloudflare/vitest-plugin'
import { TEST_CAPABILITIES } from './capabilities.ts'
import { JOB_QUEUE_RETRIES, METRICS_TOKEN } from './queue-settings.ts'
import { STAND_IN_SECRET } from './stand-in.ts'

/** A `[[ratelimits]]` binding, as Miniflare takes it. */
type RateLimitBinding = { namespace_id: string; simple: { limit: number; period?: 10 | 60 } }

export interface EdgeUnderTest {
  /** Where the suite's stand-in listens (also `test.provide.standInPorts`). */
  standInPorts: readonly number[]
  /** TIER_LIMITS: per tier burst, daily and read. */
  tierLimits: Record<'free' | 'pro', { burst: number; daily: number; read: number }>
  /** Rate-limit bindings other than wrangler.toml's. */
  ratelimits?: Record<string, RateLimitBinding>
}

export const root = new URL('../..', import.meta.url).pathname

const consumer = (o: { maxRetries: number; deadLetterQueue?: string }) => ({
  maxBatchSize: 16,
  maxBatchTimeout: 0,
  ...o,
})

export function edgeInWorkerd(o: EdgeUnderTest) {
  const dead = Math.max(...o.standInPorts) + 1
  return cloudflareTest({
    wrangler: { configPath: `${root}wrangler.toml` },
    miniflare: {
      bindings: {
        BACKEND_URLS: [...o.standInPorts, dead].map((p) => `http://127.0.0.1:${p}`).join(','),
        BACKEND_SECRET: STAND_IN_SECRET,
        BACKEND_TIMEOUT_MS: '1500',
        TIER_LIMITS: JSON.stringify(o.tierLimits),
        QUEUE_RETRY_BASE_S: '1',
        QUEUE_RETRY_MAX_S: '2',
        METRICS_TOKEN,
        MODEL_CAPABILITIES: JSON.stringify(TEST_CAPABILITIES),
      },
      queueConsumers: {
        'cascade-jobs': consumer({ maxRetries: JOB_QUEUE_RETRIES, deadLetterQueue: 'cascade-jobs-dlq' }),
        'cascade-jobs-dlq': consumer({ maxRetries: 2 }),
      },
      ...(o.ratelimits ? { ratelimits: o.ratelimits } : {}),
    },
  })
}
