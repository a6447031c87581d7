// Rate limits (api.md "Rate limits and keys"). Per tier, from TIER_LIMITS and the [[ratelimits]] bindings:
//   gen   - generations that miss the cache, Workers rate-limiting binding, 60 s window
//   daily - exact daily generation quota (images), QuotaCounter Durable Object, resets at 00:00 UTC
//   read  - cache hits, image GETs and every other request, binding, 60 s window
// Every response carries `RateLimit-Policy` (all three) and `RateLimit` (the policies this request was charged
// against, IETF draft-ietf-httpapi-ratelimit-headers). The binding only answers allow/deny, so for `gen`/`read`
// `r` is 1 ("at least one more") when allowed and 0 when denied; `daily` is exact.
// Generation routes charge themselves (`chargeGeneration` / `chargeRead`) once they know hit or miss.
import type { Context, MiddlewareHandler } from 'hono'
import { rateLimiter, tierLimits } from '../config.ts'
import type { AppEnv } from '../env.ts'
import { ApiError } from '../errors.ts'

const WINDOW_S = 60

export function secondsToUtcMidnight(nowMs = Date.now()): number {
  const d = new Date(nowMs)
  return Math.max(
    1,
    Math.ceil((Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1) - nowMs) / 1000),
  )
}

export function rateLimit(opts: {
  selfCharging: (c: Context<AppEnv>) => boolean
}): MiddlewareHandler<AppEnv> {
  return async function rateLimitMiddleware(c, next) {
    const state = { items: [] as string[], selfCharged: opts.selfCharging(c) }
    c.set('rateLimit', state)
    // A throw here (429) is rendered by app.onError, which also calls setRateLimitHeaders.
    if (!state.selfCharged) await chargeRead(c)
    await next()
    setRateLimitHeaders(c, c.res)
  }
}

/** Sets RateLimit-Policy / RateLimit on `res` (also used by app.onError). */
export function setRateLimitHeaders(c: Context<AppEnv>, res: Response): void {
  const identity = c.get('identity')
  const state = c.get('rateLimit')
  if (!identity || !state) return
  const l = tierLimits(c.env, identity.tier)
  res.headers.set(
    'RateLimit-Policy',
    `"gen";q=${l.burst};w=${WINDOW_S}, "daily";q=${l.daily};w=86400, "read";q=${l.read};w=${WINDOW_S}`,
  )
  res.headers.set('RateLimit', state.items.length ? state.items.join(', ') : `"read";r=1;t=${WINDOW_S}`)
}

/** Charges the looser read limit (cache hits, image GETs, everything but generation misses). */
export async function chargeRead(c: Context<AppEnv>): Promise<void> {
  const { tier, id } = c.get('identity')
  const { success } = await rateLimiter(c.env, tier, 'read').limit({ key: id })
  c.get('rateLimit').items.push(`"read";r=${success ? 1 : 0};t=${WINDOW_S}`)
  if (!success)
    throw new ApiError('rate_limited', 'too many requests; slow down', {
      headers: { 'Retry-After': String(WINDOW_S) },
    })
}

/** Charges a generation of `images` cache misses: the burst limit, then the exact daily quota. */
export async function chargeGeneration(c: Context<AppEnv>, images: number): Promise<void> {
  const { tier, id } = c.get('identity')
  const state = c.get('rateLimit')
  const { success } = await rateLimiter(c.env, tier, 'generate').limit({ key: id })
  state.items.push(`"gen";r=${success ? 1 : 0};t=${WINDOW_S}`)
  if (!success)
    throw new ApiError('rate_limited', 'too many generations; slow down', {
      headers: { 'Retry-After': String(WINDOW_S) },
    })
  const limit = tierLimits(c.env, tier).daily
  const now = Date.now()
  const r = await c.get('timing').time('quota', quotaOf(c).consume(images, limit, utcDay(now)))
  const reset = secondsToUtcMidnight(now)
  state.items.push(`"daily";r=${r.remaining};t=${reset}`)
  if (!r.ok)
    throw new ApiError('quota_exceeded', `daily quota of ${limit} images used up`, {
      headers: { 'Retry-After': String(reset) },
    })
}

/** Gives back `images` charged by chargeGeneration for work that was then refused; the header shows what is left. */
export async function refundGeneration(c: Context<AppEnv>, images: number): Promise<void> {
  const now = Date.now()
  const r = await quotaOf(c).refund(images, tierLimits(c.env, c.get('identity').tier).daily, utcDay(now))
  const state = c.get('rateLimit')
  state.items = state.items.filter((i) => !i.startsWith('"daily"'))
  state.items.push(`"daily";r=${r.remaining};t=${secondsToUtcMidnight(now)}`)
}

const quotaOf = (c: Context<AppEnv>) => c.env.QUOTA.get(c.env.QUOTA.idFromName(c.get('identity').id))
const utcDay = (nowMs: number) => new Date(nowMs).toISOString().slice(0, 10)
