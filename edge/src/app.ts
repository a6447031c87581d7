// The app: middleware order, routes, the one error handler. index.ts exports it with the Durable Objects.
import { OpenAPIHono } from '@hono/zod-openapi'
import { bodyLimit } from 'hono/body-limit'
import type { AppEnv } from './env.ts'
import { ApiError, onError, validationHook } from './errors.ts'
import { auth } from './middleware/auth.ts'
import { rateLimit } from './middleware/rate-limit.ts'
import { requestId } from './middleware/request-id.ts'
import { serverTiming } from './middleware/server-timing.ts'
import { registerGenerationRoutes } from './routes/generations.ts'
import { registerImageRoutes } from './routes/images.ts'
import { registerJobRoutes } from './routes/jobs.ts'
import { registerMetaRoutes } from './routes/meta.ts'
import { registerModelRoutes } from './routes/models.ts'
import { registerPoolMetrics } from './routes/pool-metrics.ts'

const MAX_BODY = 64 * 1024
const SELF_CHARGING = new Set(['POST /v1/images/generations', 'POST /v1/jobs'])

export function createApp(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })

  // Only for the benchmark: the floor a route costs in this runtime, with no middleware at all. Disabled, it falls
  // through to the middleware and the not-found answer every unknown route gets.
  app.on(['GET', 'POST'], '/bench/bare', (c, next) => (c.env.BENCH_ROUTES === '1' ? c.text('ok') : next()))

  // Operator-only (its own token), ahead of the API's auth and limits; without the token it falls through too.
  registerPoolMetrics(app)

  app.use('*', requestId(), serverTiming(), auth())
  app.use('*', rateLimit({ selfCharging: (c) => SELF_CHARGING.has(`${c.req.method} ${c.req.path}`) }))
  app.use(
    '/v1/*',
    bodyLimit({
      maxSize: MAX_BODY,
      onError: () => {
        throw new ApiError('payload_too_large', `request body over ${MAX_BODY} bytes`)
      },
    }),
  )

  registerGenerationRoutes(app)
  registerJobRoutes(app)
  registerImageRoutes(app)
  registerModelRoutes(app)
  registerMetaRoutes(app)

  // Rendered here rather than thrown: Hono calls notFound outside its handler try/catch, so a throw behind a
  // middleware that returns `next()` without awaiting it (bodyLimit) surfaced as an unhandled rejection.
  app.notFound((c) => onError(new ApiError('not_found', `no route for ${c.req.method} ${c.req.path}`), c))
  app.onError(onError)
  return app
}
