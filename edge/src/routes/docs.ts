// GET /docs: Swagger UI over /openapi.json, with its script and stylesheet served by the Worker itself (bundled
// from swagger-ui-dist as text modules, see wrangler.toml [[rules]]), so the docs open without internet. The asset
// URLs carry the swagger-ui-dist version, so browsers may keep them for a year.
import { swaggerUI } from '@hono/swagger-ui'
import type { OpenAPIHono } from '@hono/zod-openapi'
import swaggerPackage from 'swagger-ui-dist/package.json'
import stylesheet from 'swagger-ui-dist/swagger-ui.css'
import bundle from 'swagger-ui-dist/swagger-ui-bundle.js'
import type { AppEnv } from '../env.ts'

const VERSION = swaggerPackage.version
const ASSETS_BASE = '/docs/assets'

/** What @hono/swagger-ui links (`<base>/swagger-ui-dist@<version>/<file>`) and what answers each link. */
const ASSETS: Record<string, { body: string; type: string }> = {
  'swagger-ui-bundle.js': { body: bundle, type: 'text/javascript; charset=utf-8' },
  'swagger-ui.css': { body: stylesheet, type: 'text/css; charset=utf-8' },
}

export function registerDocsRoutes(app: OpenAPIHono<AppEnv>): void {
  app.get('/docs', swaggerUI({ url: '/openapi.json', baseUrl: ASSETS_BASE, version: VERSION }))
  app.get(`${ASSETS_BASE}/:release/:file`, (c, next) => {
    const asset = ASSETS[c.req.param('file')]
    if (!asset || c.req.param('release') !== `swagger-ui-dist@${VERSION}`) return next()
    return c.body(asset.body, 200, {
      'Content-Type': asset.type,
      'Cache-Control': 'public, max-age=31536000, immutable',
    })
  })
}
