// The image fields of a request, resolved into its jobs: what combines with what, what fits the canvas and the
// model's modes, and the job fields (inputs by sha256, defaults filled in so that spelled-out and omitted
// defaults share a key). The edge has read each input's header before this runs: `inputs` holds its hash and size.
import type { ModelId } from './models.ts'
import type { Job } from './schemas/backend.ts'
import type { GenerationRequest } from './schemas/generation.ts'
import {
  type InputField,
  imageMode,
  type Mode,
  type ModeFields,
  type ModelCapabilities,
  requestModes,
  TEXT_ONLY,
} from './schemas/inputs.ts'
import type { FieldError } from './schemas/problem.ts'

export interface InputInfo {
  sha256: string
  /** Pixel size, EXIF orientation applied. */
  width: number
  height: number
}

export interface ResolveImageOptions {
  /** The request's input images as the edge read them. */
  inputs?: Partial<Record<InputField, InputInfo>>
  /** What each model offers; a model not listed does text-to-image only. */
  capabilities?: Record<string, ModelCapabilities>
}

/** The field that asks for each mode, which a refusal names. */
const MODE_FIELD: Record<Exclude<Mode, 'text'>, string> = {
  variation: 'image',
  img2img: 'strength',
  inpainting: 'mask',
  outpainting: 'placement',
  canny: 'control',
}

/** The released ControlNets fit Stage C big (models/image-features.md 3.1); say so where a model lacks them. */
const CONTROLNET_NOTE =
  ' (it takes a ControlNet that fits its Stage C: the released ones fit stable-cascade, Stage C big, only)'

export function imageFieldErrors(
  req: GenerationRequest,
  model: ModelId,
  canvas: { width: number; height: number; priorSteps: number },
  opts: ResolveImageOptions,
): FieldError[] {
  const errors: FieldError[] = []
  const err = (path: string, message: string) => errors.push({ path, message })
  const inputs = opts.inputs ?? {}
  const given: [InputField, unknown][] = [
    ['image', req.image],
    ['mask', req.mask],
    ['control.image', req.control?.image],
  ]
  for (const [field, value] of given)
    if (value !== undefined && !inputs[field]) err(field, 'was not read as an image')
  errors.push(...combinationErrors(req))
  const { image, mask } = inputs
  if (image && mask && (image.width !== mask.width || image.height !== mask.height))
    err(
      'mask',
      `is ${mask.width}x${mask.height}; it must be the size of the image (${image.width}x${image.height})`,
    )
  const p = req.placement
  if (p) {
    if (p.x + p.width > canvas.width || p.y + p.height > canvas.height)
      err(
        'placement',
        `${p.width}x${p.height} at (${p.x}, ${p.y}) does not fit the ${canvas.width}x${canvas.height} output`,
      )
    else if (!req.mask && p.width === canvas.width && p.height === canvas.height)
      err('placement', 'covers the whole output: nothing to outpaint (give a smaller placement or a mask)')
  }
  if (req.strength !== undefined && Math.trunc(canvas.priorSteps * req.strength) < 1)
    err(
      'strength',
      `${req.strength} of ${canvas.priorSteps} prior steps is no step: int(prior_steps · strength) must be ≥ 1`,
    )
  errors.push(...unsupportedModeErrors(req, model, opts.capabilities?.[model] ?? TEXT_ONLY))
  return errors
}

/** One error per mode the request uses that the model does not offer, naming the field that asks for it. */
export function unsupportedModeErrors(
  r: ModeFields,
  model: ModelId,
  offered: ModelCapabilities,
): FieldError[] {
  return requestModes(r)
    .filter((mode) => mode !== 'text' && !offered.modes.includes(mode))
    .map((mode) => {
      const note = mode === 'canny' || mode === 'inpainting' || mode === 'outpainting' ? CONTROLNET_NOTE : ''
      return {
        path: MODE_FIELD[mode as Exclude<Mode, 'text'>],
        message: `${model} does not do ${mode} here (its modes: ${offered.modes.join(', ')})${note}`,
      }
    })
}

/** The image fields that do not go together (the request's, or a job's: the backend checks again). */
export function combinationErrors(r: ModeFields & { composite?: boolean | undefined }): FieldError[] {
  const errors: FieldError[] = []
  if (r.image === undefined)
    for (const f of ['strength', 'mask', 'placement'] as const)
      if (r[f] !== undefined)
        errors.push({ path: f, message: `needs an image: ${f} applies to the input image` })
  const painting = r.mask !== undefined || r.placement !== undefined
  if (r.composite !== undefined && !painting)
    errors.push({
      path: 'composite',
      message: 'applies to inpainting and outpainting only (with mask or placement)',
    })
  if (r.control && painting)
    errors.push({
      path: 'control',
      message: 'cannot be combined with inpainting or outpainting, which use the inpainting ControlNet',
    })
  return errors
}

type ImageJobFields = Pick<Job, 'image' | 'strength' | 'mask' | 'placement' | 'composite' | 'control'>

/** The job's image fields, defaults resolved (inpainting and outpainting: strength 1, composite true). */
export function resolveImageFields(req: GenerationRequest, opts: ResolveImageOptions): ImageJobFields {
  const inputs = opts.inputs ?? {}
  const mode = imageMode(req)
  const painting = mode === 'inpainting' || mode === 'outpainting'
  const out: ImageJobFields = {}
  if (inputs.image) out.image = inputs.image.sha256
  if (req.strength !== undefined || painting) out.strength = req.strength ?? 1
  if (inputs.mask) out.mask = inputs.mask.sha256
  if (req.placement) out.placement = { ...req.placement }
  if (painting) out.composite = req.composite ?? true
  const control = req.control
  const controlImage = inputs['control.image']
  if (control && controlImage)
    out.control = {
      type: control.type,
      image: controlImage.sha256,
      strength: control.strength,
      preprocessed: control.preprocessed,
    }
  return out
}
