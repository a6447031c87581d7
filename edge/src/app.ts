// The app: middleware order, routes, the one error handler. index.ts exports it with the Durable Objects.
import { OpenAPIHono } from '@hono/zod-openapi'
import type { Context } from 'hono'
import type { AppEnv } from './env.ts'
import { ApiError, onError, validationHook } from './errors.ts'
import { auth } from './middleware/auth.ts'
import { type ImageBodies, requestBodyLimit } from './middleware/body-limit.ts'
import { rateLimit } from './middleware/rate-limit.ts'
import { requestId } from './middleware/request-id.ts'
import { serverTiming } from './middleware/server-timing.ts'
import { registerGenerationRoutes } from './routes/generations.ts'
import { registerImageEditRoutes } from './routes/image-edits.ts'
import { registerImageRoutes } from './routes/images.ts'
import { registerJobRoutes } from './routes/jobs.ts'
import { registerMetaRoutes } from './routes/meta.ts'
import { registerModelRoutes } from './routes/models.ts'
import { registerPoolMetrics } from './routes/pool-metrics.ts'

/** The generation routes: they charge themselves, and take input images (in these bodies). */
const GENERATION_ROUTES = new Map<string, ImageBodies>([
  ['POST /v1/images/generations', 'json'],
  ['POST /v1/jobs', 'json'],
  ['POST /v1/images/edits', 'multipart'],
  ['POST /v1/images/variations', 'multipart'],
])
const route = (c: Context<AppEnv>) => `${c.req.method} ${c.req.path}`

export function createApp(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })

  // Only for the benchmark: the floor a route costs in this runtime, with no middleware at all. Disabled, it falls
  // through to the middleware and the not-found answer every unknown route gets.
  app.on(['GET', 'POST'], '/bench/bare', (c, next) => (c.env.BENCH_ROUTES === '1' ? c.text('ok') : next()))

  // Operator-only (its own token), ahead of the API's auth and limits; without the token it falls through too.
  registerPoolMetrics(app)

  app.use('*', requestId(), serverTiming(), auth())
  app.use('*', rateLimit({ selfCharging: (c) => GENERATION_ROUTES.has(route(c)) }))
  app.use('/v1/*', requestBodyLimit({ takesImages: (c) => GENERATION_ROUTES.get(route(c)) }))

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
