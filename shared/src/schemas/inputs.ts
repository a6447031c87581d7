// Image inputs of a generation (variation, img2img, inpainting / outpainting, canny control): the request fields,
// the limits both the edge (from the header) and the backend (decoding) enforce, the modes a request uses and the
// modes a model offers. Inputs are content-addressed: the job (and so the request key) holds each input's sha256.
import { z } from 'zod'

export const INPUT_FORMATS = ['png', 'jpeg', 'webp'] as const
export type InputFormat = (typeof INPUT_FORMATS)[number]

export const INPUT_LIMITS = {
  /** Encoded bytes per input image. */
  maxBytes: 4 * 1024 * 1024,
  /** Each side, after EXIF orientation. */
  minSide: 16,
  maxSide: 4096,
  /** Decoded pixels: a bigger header is refused before anything is decoded (decompression bombs). */
  maxPixels: 4096 * 4096,
} as const

/** The request fields that carry an image, as the `errors[].path` of a refusal names them. */
export const INPUT_FIELDS = ['image', 'mask', 'control.image'] as const
export type InputField = (typeof INPUT_FIELDS)[number]

export const CONTROL_TYPES = ['canny'] as const
export type ControlType = (typeof CONTROL_TYPES)[number]

/** What a model can do; `GET /v1/models` lists each model's modes. */
export const MODES = ['text', 'variation', 'img2img', 'inpainting', 'outpainting', 'canny'] as const
export type Mode = (typeof MODES)[number]

export const SHA256_PATTERN = /^[0-9a-f]{64}$/

/** Base64 of an image, or a `data:` URL of one (the JSON API; the OpenAI endpoints take multipart files). */
const BASE64_MAX = Math.ceil(INPUT_LIMITS.maxBytes / 3) * 4 + 64
export const ImageData = z
  .string()
  .min(1)
  .max(BASE64_MAX, `an input image is at most ${INPUT_LIMITS.maxBytes} bytes`)
  .meta({
    description: `A PNG, JPEG or WebP image as base64 or a data: URL; at most ${INPUT_LIMITS.maxBytes} bytes, sides ${INPUT_LIMITS.minSide}..${INPUT_LIMITS.maxSide} px`,
  })

/** Outpainting: where the input image goes on the `size` canvas; everything around it is painted. */
export const Placement = z
  .strictObject({
    x: z.number().int().min(0),
    y: z.number().int().min(0),
    width: z.number().int().min(INPUT_LIMITS.minSide),
    height: z.number().int().min(INPUT_LIMITS.minSide),
  })
  .meta({
    id: 'Placement',
    description: 'Outpainting: the rectangle of the output (pixels) the input image is scaled into',
  })
export type Placement = z.infer<typeof Placement>

export const ControlRequest = z
  .strictObject({
    type: z.enum(CONTROL_TYPES),
    image: ImageData,
    strength: z.number().min(0).max(2).default(1).meta({ description: 'Multiplies the ControlNet outputs' }),
    preprocessed: z
      .boolean()
      .default(false)
      .meta({ description: 'true: `image` already is the edge map; false: edges are found with Canny' }),
  })
  .meta({ id: 'ControlRequest' })
export type ControlRequest = z.infer<typeof ControlRequest>

/** The image fields of a job (what the request key hashes): inputs by sha256. */
export const JobImageFields = {
  image: z.string().regex(SHA256_PATTERN).optional(),
  strength: z.number().gt(0).max(1).optional(),
  mask: z.string().regex(SHA256_PATTERN).optional(),
  placement: Placement.optional(),
  composite: z.boolean().optional(),
  control: z
    .strictObject({
      type: z.enum(CONTROL_TYPES),
      image: z.string().regex(SHA256_PATTERN),
      strength: z.number().min(0).max(2),
      preprocessed: z.boolean(),
    })
    .optional(),
}

export interface ModeFields {
  image?: unknown
  strength?: number | undefined
  mask?: unknown
  placement?: unknown
  control?: { type: ControlType } | undefined
}

/** The image mode of a request (with an input image), or undefined for text-to-image. */
export function imageMode(r: ModeFields): Exclude<Mode, 'text' | 'canny'> | undefined {
  if (r.image === undefined) return undefined
  if (r.placement !== undefined) return 'outpainting'
  if (r.mask !== undefined) return 'inpainting'
  return r.strength !== undefined ? 'img2img' : 'variation'
}

/** Every mode a request uses: its image mode and its control, or text alone. */
export function requestModes(r: ModeFields): Mode[] {
  const modes: Mode[] = []
  const image = imageMode(r)
  if (image) modes.push(image)
  if (r.control) modes.push(r.control.type)
  return modes.length ? modes : ['text']
}

/** What a model offers (edge config `MODEL_CAPABILITIES`, from each backend's /readyz). */
export const ModelCapabilities = z.object({
  modes: z.array(z.enum(MODES)),
  previews: z.boolean(),
})
export type ModelCapabilities = z.infer<typeof ModelCapabilities>
export const TEXT_ONLY: ModelCapabilities = { modes: ['text'], previews: false }
