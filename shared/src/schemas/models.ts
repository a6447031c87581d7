// GET /v1/models
import { z } from 'zod'
import { MODEL_IDS } from '../models.ts'
import { MODES } from './inputs.ts'

export const ModelLora = z
  .object({
    file: z.string(),
    sha256: z.string(),
    strength: z.number(),
  })
  .meta({ id: 'ModelLora' })
export type ModelLora = z.infer<typeof ModelLora>

export const ModelEntry = z
  .object({
    id: z.enum(MODEL_IDS),
    object: z.literal('model'),
    family: z.string(),
    description: z.string(),
    default: z.boolean(),
    weights_version: z.string(),
    loras: z.array(ModelLora).meta({
      description:
        'LoRA files merged into the weights by `cascade convert --lora`; each file and strength is part of `weights_version`',
    }),
    defaults: z.object({
      prior_steps: z.number(),
      prior_guidance: z.number(),
      decoder_steps: z.number(),
      decoder_guidance: z.number(),
      size: z.string(),
      n: z.number(),
      output_format: z.string(),
    }),
    limits: z.object({
      min_size: z.number(),
      max_size: z.number(),
      size_multiple: z.number(),
      max_n: z.number(),
      max_prior_steps: z.number(),
      max_decoder_steps: z.number(),
    }),
    modes: z.array(z.enum(MODES)).meta({
      description:
        'What the model does: text (text-to-image), variation, img2img, inpainting, outpainting, canny (ControlNet)',
    }),
    previews: z
      .boolean()
      .meta({ description: 'Jobs of this model stream `preview` events (Stage C previewer)' }),
    license: z.object({ id: z.string(), commercial_use: z.boolean(), text: z.string() }),
    tiling: z.boolean().meta({
      description:
        'Serves seamless tiling (the request field `tiling`): its backends have tile graphs (`cascade convert --tiling`)',
    }),
    demo: z.boolean().meta({
      description:
        'Served with random weights (a `cascade make-tiny` demo model): its images are noise by design',
    }),
  })
  .meta({ id: 'Model' })

export const ModelList = z
  .object({ object: z.literal('list'), data: z.array(ModelEntry) })
  .meta({ id: 'ModelList' })
export type ModelList = z.infer<typeof ModelList>
