// Typed views of the string vars in wrangler.toml. Parsed per isolate and memoized by the raw string.
import type { ModelCapabilities, ModelLora } from '../../shared/src/index.ts'
import type { Bindings, Tier } from './env.ts'

export interface TierLimits {
  /** Generations that miss the cache per 60 s; mirrors the RL_<TIER>_GENERATE binding (it enforces). */
  burst: number
  /** Exact daily generation quota (images), enforced by the QuotaCounter Durable Object. */
  daily: number
  /** Cache hits and reads per 60 s; mirrors the RL_<TIER>_READ binding. */
  read: number
}

const memo = new Map<string, unknown>()
function parseJson<T>(raw: string, name: string): T {
  let v = memo.get(raw)
  if (v === undefined) {
    try {
      v = JSON.parse(raw)
    } catch {
      throw new Error(`config: ${name} is not valid JSON`)
    }
    memo.set(raw, v)
  }
  return v as T
}

export const tierLimits = (env: Bindings, tier: Tier): TierLimits =>
  parseJson<Record<Tier, TierLimits>>(env.TIER_LIMITS, 'TIER_LIMITS')[tier]

export const modelVersions = (env: Bindings): Record<string, string> =>
  parseJson<Record<string, string>>(env.MODEL_VERSIONS, 'MODEL_VERSIONS')

/** LoRA files merged into each model's weights (from its manifest; `npm start` passes them on). */
export const modelLoras = (env: Bindings): Record<string, ModelLora[]> =>
  parseJson<Record<string, ModelLora[]>>(env.MODEL_LORAS ?? '{}', 'MODEL_LORAS')

/** What each model can do (its modes, whether it previews), from its backends' /readyz; `npm start` passes it. */
export const modelCapabilities = (env: Bindings): Record<string, ModelCapabilities> =>
  parseJson<Record<string, ModelCapabilities>>(env.MODEL_CAPABILITIES ?? '{}', 'MODEL_CAPABILITIES')

const idSet = (raw: string | undefined): Set<string> =>
  new Set(
    (raw ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  )

/** Models whose backend serves random weights (a `cascade make-tiny` demo): their images are noise by design. */
export const demoModels = (env: Bindings): Set<string> => idSet(env.DEMO_MODELS)

/** Models whose backends have tile graphs (`cascade convert --tiling`): the ones that accept `tiling`. */
export const tilingModels = (env: Bindings): Set<string> => idSet(env.TILING_MODELS)

export const backendUrls = (env: Bindings): string[] =>
  env.BACKEND_URLS.split(',')
    .map((s) => s.trim().replace(/\/+$/, ''))
    .filter(Boolean)

export const backendTimeoutMs = (env: Bindings): number => Number(env.BACKEND_TIMEOUT_MS) || 120_000

export function rateLimiter(env: Bindings, tier: Tier, kind: 'generate' | 'read'): RateLimit {
  return tier === 'pro'
    ? kind === 'generate'
      ? env.RL_PRO_GENERATE
      : env.RL_PRO_READ
    : kind === 'generate'
      ? env.RL_FREE_GENERATE
      : env.RL_FREE_READ
}

const seconds = (raw: string | undefined, fallback: number): number => {
  const v = Number(raw)
  return raw !== undefined && raw !== '' && Number.isFinite(v) && v >= 0 ? v : fallback
}

export interface RetryPolicy {
  baseS: number
  maxS: number
}

export const retryPolicy = (env: Bindings): RetryPolicy => ({
  baseS: seconds(env.QUEUE_RETRY_BASE_S, 2),
  maxS: seconds(env.QUEUE_RETRY_MAX_S, 60),
})

export const syncWaitMs = (env: Bindings): number => seconds(env.SYNC_WAIT_MS, 120_000)
