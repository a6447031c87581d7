// Who is calling. No Authorization header: the free tier, keyed by CF-Connecting-IP (never a client-supplied
// X-Forwarded-For). `Authorization: Bearer <key>`: looked up by sha256 hash in KV; an unknown key is 401, never a
// silent fall-back to free.
import type { MiddlewareHandler } from 'hono'
import { sha256Hex } from '../../../shared/src/index.ts'
import { type AppEnv, TIERS, type Tier } from '../env.ts'
import { ApiError } from '../errors.ts'

// The scheme is case-insensitive (RFC 9110 §11.1): "bearer <key>" is the same credential.
const BEARER = /^Bearer ([\x21-\x7e]{8,256})$/i

export function auth(): MiddlewareHandler<AppEnv> {
  return async function authMiddleware(c, next) {
    const header = c.req.header('Authorization')
    if (header === undefined) {
      c.set('identity', { tier: 'free', id: `ip:${c.req.header('CF-Connecting-IP') ?? 'unknown'}` })
      return next()
    }
    const token = BEARER.exec(header)?.[1]
    if (!token) throw new ApiError('unauthorized', 'Authorization must be "Bearer <api key>"')
    const hash = await sha256Hex(token)
    const record = await c
      .get('timing')
      .time('auth', c.env.API_KEYS.get<{ tier?: string }>(`key:${hash}`, 'json'))
    const tier = record?.tier
    if (!tier || !TIERS.includes(tier as Tier)) throw new ApiError('unauthorized', 'unknown API key')
    c.set('identity', { tier: tier as Tier, id: `key:${hash.slice(0, 32)}` })
    return next()
  }
}
