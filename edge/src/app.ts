// The app: middleware order, routes, the one error handler. index.ts exports it with the Durable Objects.
import { OpenAPIHono } from '@hono/zod-openapi'
import type { AppEnv } from './env.ts'
import { ApiError, onError, validationHook } from './errors.ts'
import { auth } from './middleware/auth.ts'
import { requestBodyLimit } from './middleware/body-limit.ts'
import { rateLimit } from './middleware/rate-limit.ts'
import { requestId } from './middleware/request-id.ts'
import { serverTiming } from './middleware/server-timing.ts'
import { registerGenerationRoutes } from './routes/generations.ts'
import { registerImageEditRoutes } from './routes/image-edits.ts'
import { registerImageRoutes } from './routes/images.ts'
import { registerJobRoutes } from './routes/jobs.ts'
import { registerMetaRoutes } from './routes/meta.ts'
import { registerModelRoutes } from './routes/models.ts'

const SELF_CHARGING = new Set([
  'POST /v1/images/generations',
  'POST /v1/jobs',
  'POST /v1/images/edits',
  'POST /v1/images/variations',
])

export function createApp(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })

  // Only for the benchmark: the floor a route costs in this runtime, with no middleware at all. Disabled, it falls
  // through to the middleware and the not-found answer every unknown route gets.
  app.on(['GET', 'POST'], '/bench/bare', (c, next) => (c.env.BENCH_ROUTES === '1' ? c.text('ok') : next()))

  app.use('*', requestId(), serverTiming(), auth())
  app.use('*', rateLimit({ selfCharging: (c) => SELF_CHARGING.has(`${c.req.method} ${c.req.path}`) }))
  // The generation routes charge themselves, and they are the ones that take input images.
  app.use(
    '/v1/*',
    requestBodyLimit({ takesImages: (c) => SELF_CHARGING.has(`${c.req.method} ${c.req.path}`) }),
  )

  registerGenerationRoutes(app)
  registerImageEditRoutes(app)
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
