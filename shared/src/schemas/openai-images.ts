// POST /v1/images/edits and POST /v1/images/variations: OpenAI's multipart image endpoints (the unchanged openai SDK's
// images.edit and images.createVariation). Form fields are strings, so numbers are coerced; files are File parts.
// Strict as the JSON API: an unknown field is a 400. Beyond OpenAI's fields, the JSON request's generation
// settings are accepted under the same names.
import { z } from 'zod'
import { GenerationRequest } from './generation.ts'
import { INPUT_LIMITS } from './inputs.ts'

const imageFile = (description: string) =>
  z.file().meta({
    type: 'string',
    format: 'binary',
    description: `${description}; PNG, JPEG or WebP, at most ${INPUT_LIMITS.maxBytes} bytes`,
  })

const g = GenerationRequest.shape
const formNumber = (s: z.ZodNumber) => z.coerce.number().pipe(s)

/** The generation settings every form takes (OpenAI's n, size, response_format, model; ours beside them). */
const settings = {
  model: g.model,
  n: formNumber(z.number().int().min(1).max(4)).default(1),
  size: g.size,
  response_format: g.response_format,
  output_format: g.output_format,
  negative_prompt: g.negative_prompt,
  seed: formNumber(z.number().int().min(0).max(4294967295)).optional(),
  prior_steps: formNumber(z.number().int().min(1).max(60)).optional(),
  prior_guidance: formNumber(z.number().min(0).max(20)).optional(),
  decoder_steps: formNumber(z.number().int().min(1).max(30)).optional(),
  decoder_guidance: formNumber(z.number().min(0).max(10)).optional(),
}

export const ImageEditRequest = z
  .strictObject({
    image: imageFile('The image to edit'),
    mask: imageFile(
      'Its transparent pixels are repainted; the size of `image`. Without a mask, `image` must have transparent pixels',
    ).optional(),
    prompt: z.string().min(1).max(2000),
    strength: formNumber(z.number().gt(0).max(1)).optional().meta({
      description: 'How far the image is noised before repainting (default 1, the official recipe)',
    }),
    composite: z
      .enum(['true', 'false'])
      .transform((v) => v === 'true')
      .optional()
      .meta({ description: 'Paste the unmasked pixels back (default true)' }),
    ...settings,
  })
  .meta({ id: 'ImageEditRequest' })
export type ImageEditRequest = z.infer<typeof ImageEditRequest>

export const ImageVariationRequest = z
  .strictObject({ image: imageFile('The image to make variations of'), ...settings })
  .meta({ id: 'ImageVariationRequest' })
export type ImageVariationRequest = z.infer<typeof ImageVariationRequest>
