// GET /healthz, GET /openapi.json (generated from the routes' zod schemas), GET /docs (Swagger UI, docs.ts), GET /.
import type { OpenAPIHono } from '@hono/zod-openapi'
import type { AppEnv } from '../env.ts'
import { PLAYGROUND_HTML } from '../pages/playground.ts'
import { registerDocsRoutes } from './docs.ts'

export function registerMetaRoutes(app: OpenAPIHono<AppEnv>): void {
  app.get('/healthz', (c) => c.json({ ok: true }))
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'cascade-edge',
      version: '1.0.0',
      description: 'Würstchen / Stable Cascade text-to-image at the edge. Errors are RFC 9457 problem+json.',
    },
  })
  registerDocsRoutes(app)
  app.get('/', (c) => c.html(PLAYGROUND_HTML))
}
