// POST /v1/images/generations: OpenAI Images compatible, synchronous.
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi'
import { GenerationRequest, GenerationResponse } from '../../../shared/src/index.ts'
import type { AppEnv } from '../env.ts'
import { findMisses, generateMissing, prepare, renderData } from '../generation.ts'
import { chargeGeneration, chargeRead } from '../middleware/rate-limit.ts'
import { generationErrors } from './responses.ts'

const route = createRoute({
  method: 'post',
  path: '/v1/images/generations',
  summary: 'Generate images (OpenAI Images compatible)',
  request: { body: { required: true, content: { 'application/json': { schema: GenerationRequest } } } },
  responses: {
    200: {
      description: 'Images; X-Cache: HIT when every image came from the cache',
      content: { 'application/json': { schema: GenerationResponse } },
    },
    ...generationErrors,
  },
})

export function registerGenerationRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const p = await prepare(c, c.req.valid('json'))
    const misses = await findMisses(c, p)
    let bytes: Map<number, Uint8Array> | undefined
    if (misses.length === 0) await chargeRead(c)
    else {
      await chargeGeneration(c, misses.length)
      bytes = await generateMissing(c, p, misses)
    }
    const data = await renderData(c, p, bytes)
    c.header('X-Cache', misses.length === 0 ? 'HIT' : 'MISS')
    return c.json({ created: Math.floor(Date.now() / 1000), model: p.model, data }, 200)
  })
}
