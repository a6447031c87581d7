// Bindings (wrangler.toml) and the per-request variables every middleware and route shares.
import type { GenerationCoordinator } from './durable-objects/generation-coordinator.ts'
import type { JobRecord } from './durable-objects/job-record.ts'
import type { QuotaCounter } from './durable-objects/quota-counter.ts'
import type { ServerTiming } from './middleware/server-timing.ts'
import type { JobMessage } from './queue/message.ts'

export interface Bindings {
  IMAGES: R2Bucket
  /** `key:<sha256 hex of the bearer token>` -> `{"tier": "free" | "pro", "name"?: string}` */
  API_KEYS: KVNamespace
  GENERATION: DurableObjectNamespace<GenerationCoordinator>
  JOBS: DurableObjectNamespace<JobRecord>
  QUOTA: DurableObjectNamespace<QuotaCounter>
  RL_FREE_GENERATE: RateLimit
  RL_FREE_READ: RateLimit
  RL_PRO_GENERATE: RateLimit
  RL_PRO_READ: RateLimit
  /**
   * Producer binding of the jobs queue (wrangler.toml [[queues.producers]]). Accepted jobs wait there until the
   * Worker's own queue() consumer finds them a backend. Absent: jobs are dispatched at once, and a busy pool fails them.
   */
  JOB_QUEUE?: Queue<JobMessage>
  /** The jobs queue's dead-letter queue: the consumer marks the jobs in its batches failed. */
  JOBS_DLQ?: string
  /** Backoff of a job the pool could not take: base × 2^(attempt − 1) seconds, at most the max. */
  QUEUE_RETRY_BASE_S?: string
  QUEUE_RETRY_MAX_S?: string
  /** How long a sync request whose pool was busy waits for its queued job before it answers 504. */
  SYNC_WAIT_MS?: string
  /** Bearer token of GET /metrics (the pool's queue depth for autoscaling); unset: the route does not exist. */
  METRICS_TOKEN?: string
  BACKEND_URLS: string
  BACKEND_SECRET: string
  BACKEND_TIMEOUT_MS: string
  TIER_LIMITS: string
  MODEL_VERSIONS: string
  /** Comma-separated model ids served with random weights (`cascade make-tiny`): GET /v1/models flags them. */
  DEMO_MODELS?: string
  /** JSON: model id -> the LoRA files merged into its weights ({ file, sha256, strength }); GET /v1/models shows them. */
  MODEL_LORAS?: string
  /** Comma-separated model ids whose backends have tile graphs: only they accept `tiling`. */
  TILING_MODELS?: string
  /** JSON: model id -> { modes, previews } (each backend's /readyz); a model not listed does text-to-image only. */
  MODEL_CAPABILITIES?: string
  PUBLIC_BASE_URL?: string
  BENCH_ROUTES?: string
}

export type Tier = 'free' | 'pro'
export const TIERS: readonly Tier[] = ['free', 'pro']

export interface Identity {
  tier: Tier
  /** Rate-limit and quota key: `ip:<CF-Connecting-IP>` or `key:<hash prefix>`. */
  id: string
}

export interface Variables {
  requestId: string
  timing: ServerTiming
  identity: Identity
  rateLimit: RateLimitState
}

export interface RateLimitState {
  /** The `RateLimit` header items this request was charged against (IETF draft format). */
  items: string[]
  /** Set by routes that charge limits themselves; the middleware then skips its read charge. */
  selfCharged: boolean
}

export type AppEnv = { Bindings: Bindings; Variables: Variables }
