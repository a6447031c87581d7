// GET /v1/models: the enabled models (those with a configured weights version), defaults, limits, licence, the
// LoRA files merged into their weights (MODEL_LORAS), whether it tiles (TILING_MODELS), whether it is a random-weight
// demo (DEMO_MODELS), and its modes and previews (MODEL_CAPABILITIES).
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi'
import { DEFAULT_MODEL, MODEL_IDS, MODELS, ModelList, TEXT_ONLY } from '../../../shared/src/index.ts'
import { demoModels, modelCapabilities, modelLoras, modelVersions, tilingModels } from '../config.ts'
import type { AppEnv } from '../env.ts'
import { errorResponses } from './responses.ts'

const route = createRoute({
  method: 'get',
  path: '/v1/models',
  summary: 'Models, their defaults, limits and licence',
  responses: {
    200: { description: 'Models', content: { 'application/json': { schema: ModelList } } },
    ...errorResponses,
  },
})

export function registerModelRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, (c) => {
    const versions = modelVersions(c.env)
    const demo = demoModels(c.env)
    const loras = modelLoras(c.env)
    const tiling = tilingModels(c.env)
    const capabilities = modelCapabilities(c.env)
    const data = MODEL_IDS.filter((id) => versions[id]).map((id) => {
      const m = MODELS[id]
      return {
        id,
        object: 'model' as const,
        family: m.family,
        description: m.description,
        default: id === DEFAULT_MODEL,
        weights_version: versions[id] as string,
        loras: loras[id] ?? [],
        ...(capabilities[id] ?? TEXT_ONLY),
        defaults: { ...m.defaults, size: '1024x1024', n: 1, output_format: 'png' },
        limits: m.limits,
        license: m.license,
        tiling: tiling.has(id),
        demo: demo.has(id),
      }
    })
    return c.json({ object: 'list' as const, data }, 200)
  })
}
