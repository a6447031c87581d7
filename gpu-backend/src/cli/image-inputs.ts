// `cascade generate`'s image options -> the pipeline's inputs, by the API's rules: the same combinations, limits
// and checks (shared resolve-images.ts, input-check.ts), the same decoding (image/decode.ts) and mapping
// (pipeline/job-inputs.ts). An error names the option.
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import {
  CONTROL_TYPES,
  type ControlType,
  checkInputImage,
  type GenerationRequest,
  type InputField,
  type InputInfo,
  imageFieldErrors,
  type ModelId,
  type Placement,
  resolveImageFields,
} from '../../../shared/src/index.ts'
import type { Manifest } from '../compiler/manifest.ts'
import { decodeInputImage, InputImageError } from '../image/decode.ts'
import { capabilitiesOf } from '../pipeline/image-graphs.ts'
import { type JobInputs, jobImageInputs } from '../pipeline/job-inputs.ts'

export interface ImageOptions {
  image?: string
  strength?: number
  mask?: string
  placement?: Placement
  composite: boolean
  /** `<type>:<file>`, e.g. canny:photo.png */
  control?: string
  controlStrength: number
  controlPreprocessed: boolean
}

const OPTION: Record<string, string> = {
  image: '--image',
  strength: '--strength',
  mask: '--mask',
  placement: '--placement',
  composite: '--no-composite',
  control: '--control',
  'control.image': '--control',
}

export function parseControl(spec: string): { type: ControlType; file: string } {
  const at = spec.indexOf(':')
  const type = spec.slice(0, at) as ControlType
  if (at < 0 || !CONTROL_TYPES.includes(type))
    throw new Error(`--control must be <type>:<file> with type ${CONTROL_TYPES.join(' or ')}, got "${spec}"`)
  return { type, file: spec.slice(at + 1) }
}

/** x,y,width,height in output pixels. */
export function parsePlacement(spec: string): Placement {
  const v = spec.split(',').map(Number)
  const [x, y, width, height] = v
  if (v.length !== 4 || !v.every((n) => Number.isInteger(n) && n >= 0))
    throw new Error(`--placement must be x,y,width,height (integers), got "${spec}"`)
  return { x: x as number, y: y as number, width: width as number, height: height as number }
}

export const usesImages = (o: ImageOptions) =>
  [o.image, o.strength, o.mask, o.placement, o.control].some((v) => v !== undefined)

export async function readImageOptions(
  o: ImageOptions,
  model: { id: ModelId; manifest: Manifest },
  canvas: { width: number; height: number; priorSteps: number },
): Promise<JobInputs> {
  const control = o.control ? parseControl(o.control) : undefined
  const files: Partial<Record<InputField, string>> = {
    ...(o.image ? { image: o.image } : {}),
    ...(o.mask ? { mask: o.mask } : {}),
    ...(control ? { 'control.image': control.file } : {}),
  }
  const bytes: Partial<Record<InputField, Uint8Array>> = {}
  const infos: Partial<Record<InputField, InputInfo>> = {}
  for (const [field, file] of Object.entries(files) as [InputField, string][]) {
    const b = new Uint8Array(readFileSync(file))
    const check = checkInputImage(b)
    if (!check.ok) throw new Error(`${OPTION[field]} ${file} ${check.message}`)
    bytes[field] = b
    infos[field] = {
      sha256: createHash('sha256').update(b).digest('hex'),
      width: check.width,
      height: check.height,
    }
  }
  const req = {
    ...(o.image ? { image: o.image } : {}),
    ...(o.strength !== undefined ? { strength: o.strength } : {}),
    ...(o.mask ? { mask: o.mask } : {}),
    ...(o.placement ? { placement: o.placement } : {}),
    ...(o.composite ? {} : { composite: false }),
    ...(control
      ? {
          control: {
            type: control.type,
            image: control.file,
            strength: o.controlStrength,
            preprocessed: o.controlPreprocessed,
          },
        }
      : {}),
  } as GenerationRequest
  const opts = { inputs: infos, capabilities: { [model.id]: capabilitiesOf(model.manifest) } }
  const errors = imageFieldErrors(req, model.id, canvas, opts)
  if (errors.length) throw new Error(errors.map((e) => `${OPTION[e.path] ?? e.path} ${e.message}`).join('; '))
  try {
    const decoded = async (field: InputField) => {
      const b = bytes[field]
      return b ? { [field === 'control.image' ? 'control' : field]: await decodeInputImage(b, field) } : {}
    }
    return await jobImageInputs(
      resolveImageFields(req, opts),
      { ...(await decoded('image')), ...(await decoded('mask')), ...(await decoded('control.image')) },
      canvas,
    )
  } catch (err) {
    if (err instanceof InputImageError)
      throw new Error(`${OPTION[err.field]} ${files[err.field]} ${err.message}`)
    throw err
  }
}
