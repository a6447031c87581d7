// X-Request-Id on every response: the client's own if it is a sane token, else a fresh UUID.
import type { MiddlewareHandler } from 'hono'
import type { AppEnv } from '../env.ts'

const SANE_ID = /^[\w.:-]{1,128}$/

export function requestId(opts: { header?: string } = {}): MiddlewareHandler<AppEnv> {
  const header = opts.header ?? 'X-Request-Id'
  return async function requestIdMiddleware(c, next) {
    const incoming = c.req.header(header)
    const id = incoming && SANE_ID.test(incoming) ? incoming : crypto.randomUUID()
    c.set('requestId', id)
    await next()
    c.res.headers.set(header, id)
  }
}
