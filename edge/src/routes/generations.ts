// POST /v1/images/generations: OpenAI Images compatible, synchronous.
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi'
import { GenerationRequest, GenerationResponse } from '../../../shared/src/index.ts'
import type { AppEnv } from '../env.ts'
import { generationHook } from '../errors.ts'
import { prepare, respond } from '../generation.ts'
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
  app.openapi(
    route,
    async (c) => c.json(await respond(c, await prepare(c, c.req.valid('json'))), 200),
    generationHook(),
  )
}
