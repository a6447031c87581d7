// GET /v1/images/{key}.{png|webp|jpeg}: content-addressed, immutable. A malformed key is a 404 without touching
// storage; a matching If-None-Match is a 304 (the key is the content's identity); else Cache API, then R2.
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import { KEY_PATTERN, type OutputFormat } from '../../../shared/src/index.ts'
import type { AppEnv } from '../env.ts'
import { ApiError } from '../errors.ts'
import { publicOrigin } from '../generation.ts'
import { IMMUTABLE, imageResponse, readImage } from '../storage/images.ts'
import { errorResponses, notFound } from './responses.ts'

const FILE = /^([0-9a-f]{64})\.(png|webp|jpeg)$/

const route = createRoute({
  method: 'get',
  path: '/v1/images/{file}',
  summary: 'An image by key: {key}.{png|webp|jpeg}, key = 64 lowercase hex',
  request: { params: z.object({ file: z.string().meta({ param: { name: 'file', in: 'path' } }) }) },
  responses: {
    200: {
      description: 'The image; Cache-Control immutable, ETag "{key}"',
      content: { 'image/png': { schema: z.string() }, 'image/webp': { schema: z.string() } },
    },
    304: { description: 'Not modified' },
    ...notFound,
    ...errorResponses,
  },
})

export function registerImageRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const m = FILE.exec(c.req.valid('param').file)
    if (!m || !KEY_PATTERN.test(m[1] ?? '')) throw new ApiError('not_found', 'no such image')
    const key = m[1] as string
    const ext = m[2] as OutputFormat
    const inm = c.req.header('If-None-Match')
    if (inm?.split(',').some((t) => t.trim().replace(/^W\//, '') === `"${key}"`)) {
      return new Response(null, {
        status: 304,
        headers: { ETag: `"${key}"`, 'Cache-Control': IMMUTABLE },
      }) as never
    }
    const img = await c.get('timing').time(
      'storage',
      readImage(c.env.IMAGES, publicOrigin(c), key, ext, (p) => c.executionCtx.waitUntil(p)),
    )
    if (!img) throw new ApiError('not_found', 'no such image')
    const res = imageResponse(key, ext, img.body)
    res.headers.set('X-Cache', img.source === 'cache' ? 'HIT' : 'MISS')
    return res as never
  })
}
