// POST /v1/images/generations (and POST /v1/jobs): request and response. OpenAI Images compatible.
import { z } from 'zod'
import { MODEL_IDS } from '../models.ts'
import { ControlRequest, ImageData, Placement } from './inputs.ts'

export const OUTPUT_FORMATS = ['png', 'webp', 'jpeg'] as const
export type OutputFormat = (typeof OUTPUT_FORMATS)[number]
export const CONTENT_TYPES: Record<OutputFormat, string> = {
  png: 'image/png',
  webp: 'image/webp',
  jpeg: 'image/jpeg',
}

export const SIZE_PATTERN = /^(\d{3,4})x(\d{3,4})$/

/** Which image axes wrap in a tiled generation: `tiling: true` resolves to "xy". */
export const TILING_AXES = ['xy', 'x', 'y'] as const
export type TilingAxes = (typeof TILING_AXES)[number]

export const PROMPT_REQUIRED = 'prompt is required (it may be left out only with an image)'

/**
 * A request body (anything) that needs a prompt and has none. zod skips the object's check once a field has failed
 * its type (an int check aborts), so the edge also applies it to a body that failed (edge/src/errors.ts).
 */
export function promptMissing(body: unknown): boolean {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return false
  const b = body as Record<string, unknown>
  return b.prompt === undefined && b.image === undefined
}

/**
 * Strict: an unknown field is a 400, so a typo never silently changes what is generated or cached. The image
 * fields select a mode: `image` alone is a variation, with `strength` img2img, with `mask` inpainting, with
 * `placement` outpainting; `control` adds a ControlNet to any of them.
 */
export const GenerationRequest = z
  .strictObject({
    prompt: z.string().min(1).max(2000).optional().meta({
      example: 'an astronaut riding a horse, watercolor',
      description: 'Required unless `image` is given',
    }),
    negative_prompt: z.string().max(2000).default(''),
    model: z
      .enum(MODEL_IDS)
      .optional()
      .meta({ description: "One of GET /v1/models; the server's default if omitted" }),
    n: z.number().int().min(1).max(4).default(1).meta({ description: 'Image i uses seed + i' }),
    size: z
      .string()
      .regex(SIZE_PATTERN, 'size must be "WxH"')
      .refine(
        (s) =>
          !SIZE_PATTERN.test(s) ||
          s.split('x').every((v) => Number(v) >= 512 && Number(v) <= 1536 && Number(v) % 128 === 0),
        'W and H must be multiples of 128 in 512..1536',
      )
      .default('1024x1024')
      .meta({ description: 'W and H multiples of 128 in 512..1536 (model limits may narrow it)' }),
    seed: z
      .number()
      .int()
      .min(0)
      .max(4294967295)
      .optional()
      .meta({ description: 'Omitted: derived from the request hash, so identical requests share one image' }),
    prior_steps: z
      .number()
      .int()
      .min(1)
      .max(60)
      .optional()
      .meta({ description: "Stage C steps; model's default" }),
    prior_guidance: z.number().min(0).max(20).optional(),
    decoder_steps: z
      .number()
      .int()
      .min(1)
      .max(30)
      .optional()
      .meta({ description: "Stage B steps; model's default" }),
    decoder_guidance: z.number().min(0).max(10).optional(),
    tiling: z
      .union([z.boolean(), z.enum(['x', 'y'])])
      .optional()
      .meta({
        description:
          'Seamless tiling: the image wraps around, so copies of it laid side by side show no seam. true: both ' +
          'axes; "x": left and right edges only; "y": top and bottom only. Models that support it: GET /v1/models `tiling`',
      }),
    output_format: z.enum(OUTPUT_FORMATS).default('png'),
    response_format: z.enum(['url', 'b64_json']).default('url'),
    image: ImageData.optional().meta({
      description:
        'Input image (base64 or data: URL, PNG / JPEG / WebP): alone a variation (CLIP vision), with `strength` img2img, with `mask` inpainting, with `placement` outpainting',
    }),
    strength: z.number().gt(0).max(1).optional().meta({
      description:
        'img2img (and inpainting): how far the image is noised, 0 < s ≤ 1; int(prior_steps · s) Stage C steps run',
    }),
    mask: ImageData.optional().meta({
      description:
        'Inpainting mask, the size of `image`: transparent pixels are repainted (OpenAI); without alpha, white ones are',
    }),
    placement: Placement.optional(),
    composite: z.boolean().optional().meta({
      description:
        "Inpainting / outpainting: paste the input's unmasked pixels back into the result (default true)",
    }),
    control: ControlRequest.optional(),
  })
  .check(
    z.refine((r) => !promptMissing(r), {
      path: ['prompt'],
      message: PROMPT_REQUIRED,
      when: () => true,
    }),
  )
  .meta({ id: 'GenerationRequest' })
export type GenerationRequest = z.infer<typeof GenerationRequest>
export type GenerationRequestInput = z.input<typeof GenerationRequest>

export const ImageDatum = z
  .object({
    url: z.string().optional(),
    b64_json: z.string().optional(),
    seed: z.number().int(),
  })
  .meta({ id: 'ImageDatum' })
export type ImageDatum = z.infer<typeof ImageDatum>

export const GenerationResponse = z
  .object({
    created: z.number().int().meta({ description: 'unix seconds' }),
    model: z.enum(MODEL_IDS),
    data: z.array(ImageDatum),
  })
  .meta({ id: 'GenerationResponse' })
export type GenerationResponse = z.infer<typeof GenerationResponse>
