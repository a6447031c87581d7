// POST /v1/images/edits (inpainting) and POST /v1/images/variations: OpenAI's multipart endpoints, answered as
// POST /v1/images/generations is (same caching, limits, errors and response). An edit is inpainting with the
// mask, or with the image's own transparent pixels when there is no mask (OpenAI's rule); a variation is CLIP
// vision of the image, with no prompt.
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi'
import {
  type GenerationRequest,
  GenerationResponse,
  ImageEditRequest,
  ImageVariationRequest,
} from '../../../shared/src/index.ts'
import type { AppEnv } from '../env.ts'
import { type GivenInputs, prepare, respond } from '../generation.ts'
import { generationErrors } from './responses.ts'

/** The JSON request's image fields only say "given"; the multipart files are the inputs. */
const FROM_FORM = 'multipart'

const ok = {
  200: {
    description: 'Images; X-Cache: HIT when every image came from the cache',
    content: { 'application/json': { schema: GenerationResponse } },
  },
  ...generationErrors,
} as const

const edits = createRoute({
  method: 'post',
  path: '/v1/images/edits',
  summary: 'Edit an image: inpainting (OpenAI Images compatible, multipart)',
  request: { body: { required: true, content: { 'multipart/form-data': { schema: ImageEditRequest } } } },
  responses: ok,
})

const variations = createRoute({
  method: 'post',
  path: '/v1/images/variations',
  summary: 'Variations of an image (OpenAI Images compatible, multipart)',
  request: {
    body: { required: true, content: { 'multipart/form-data': { schema: ImageVariationRequest } } },
  },
  responses: ok,
})

const bytesOf = async (f: Blob) => new Uint8Array(await f.arrayBuffer())

export function registerImageEditRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(edits, async (c) => {
    const { image, mask, ...form } = c.req.valid('form')
    const imageBytes = await bytesOf(image as Blob)
    const given: GivenInputs = { image: imageBytes, mask: mask ? await bytesOf(mask as Blob) : imageBytes }
    const req: GenerationRequest = { ...form, image: FROM_FORM, mask: FROM_FORM }
    return c.json(await respond(c, await prepare(c, req, given)), 200)
  })

  app.openapi(variations, async (c) => {
    const { image, ...form } = c.req.valid('form')
    const req: GenerationRequest = { ...form, image: FROM_FORM }
    return c.json(await respond(c, await prepare(c, req, { image: await bytesOf(image as Blob) })), 200)
  })
}
