// A job's image fields (shared's Job: inputs by hash, strength, placement, composite, control) and its decoded
// inputs -> the pipeline's per-image inputs (image-conditioning.ts) and the batch's strength:
// - variation: CLIP vision of `image`;
// - img2img: start from `image`'s latent at `strength`;
// - inpainting: the inpainting ControlNet with [where(mask, 1, image), mask], the start at `strength` (1: the
//   official recipe), the kept pixels composited back unless `composite` is false;
// - outpainting: the same on a canvas of the output's size, the image scaled into `placement` and everything
//   around it (plus what its own mask marks) repainted;
// - canny: the canny ControlNet on `control.image`.
// Masks follow OpenAI: transparent pixels are repainted; a mask without alpha repaints its white pixels. The
// OpenAI edits endpoint without a mask sends the image as its own mask, so it needs transparent pixels.
import { imageMode, type Job, type Placement } from '../../../shared/src/index.ts'
import { type DecodedImage, InputImageError } from '../image/decode.ts'
import type { ImageInputs } from './image-conditioning.ts'
import { type InputImage, type InputMask, resampleRaw } from './inputs.ts'

export interface DecodedInputs {
  image?: DecodedImage
  mask?: DecodedImage
  control?: DecodedImage
}

export type JobImageFields = Pick<Job, 'image' | 'strength' | 'mask' | 'placement' | 'composite' | 'control'>

export interface JobInputs {
  inputs?: ImageInputs
  /** The start of Stage C for img2img and inpainting. */
  strength?: number
}

const HALF = 128

function maskOf(decoded: DecodedImage, isTheImage: boolean): InputMask {
  const plane = decoded.width * decoded.height
  const repaint = new Uint8Array(plane)
  const { alpha, rgb8 } = decoded
  if (alpha) for (let p = 0; p < plane; p++) repaint[p] = (alpha[p] as number) < HALF ? 1 : 0
  else if (isTheImage)
    throw new InputImageError(
      'mask',
      'is required: the image has no alpha channel to mark what to repaint (send a mask, or a PNG with transparent pixels)',
    )
  else
    for (let p = 0; p < plane; p++) {
      const luma =
        0.299 * (rgb8[3 * p] as number) +
        0.587 * (rgb8[3 * p + 1] as number) +
        0.114 * (rgb8[3 * p + 2] as number)
      repaint[p] = luma >= HALF ? 1 : 0
    }
  if (!repaint.includes(1))
    throw new InputImageError(
      'mask',
      `marks no pixel to repaint (${alpha ? 'transparent' : 'white'} pixels are repainted)`,
    )
  return { width: decoded.width, height: decoded.height, repaint }
}

const resized = (
  data: Uint8Array,
  from: { width: number; height: number },
  channels: 1 | 3,
  w: number,
  h: number,
) =>
  resampleRaw(
    data,
    from,
    channels,
    { width: w, height: h },
    { fit: 'fill', kernel: channels === 3 ? 'cubic' : 'linear' },
  )

/** Outpainting: the image scaled into `p` on a black canvas; repaint everything outside `p` (and what `mask` marks). */
async function placeOnCanvas(
  image: DecodedImage,
  mask: InputMask | undefined,
  p: Placement,
  canvas: { width: number; height: number },
): Promise<{ image: InputImage; mask: InputMask }> {
  const { width, height } = canvas
  const rgb8 = new Uint8Array(3 * width * height)
  const repaint = new Uint8Array(width * height).fill(1)
  const pixels = await resized(image.rgb8, image, 3, p.width, p.height)
  const inner = mask
    ? await resized(
        mask.repaint.map((v) => (v ? 255 : 0)),
        mask,
        1,
        p.width,
        p.height,
      )
    : undefined
  for (let y = 0; y < p.height; y++) {
    const row = (p.y + y) * width + p.x
    rgb8.set(pixels.subarray(3 * y * p.width, 3 * (y + 1) * p.width), 3 * row)
    for (let x = 0; x < p.width; x++)
      repaint[row + x] = inner && (inner[y * p.width + x] as number) >= HALF ? 1 : 0
  }
  return { image: { width, height, rgb8 }, mask: { width, height, repaint } }
}

export async function jobImageInputs(
  job: JobImageFields,
  decoded: DecodedInputs,
  canvas: { width: number; height: number },
): Promise<JobInputs> {
  const mode = imageMode(job)
  const out: ImageInputs = {}
  let strength: number | undefined
  const image = decoded.image
  if (mode && !image) throw new InputImageError('image', 'is missing')
  if (image && mode === 'variation') out.variation = image
  if (image && mode === 'img2img') {
    out.init = image
    strength = job.strength
  }
  if (image && (mode === 'inpainting' || mode === 'outpainting')) {
    let mask: InputMask | undefined
    if (decoded.mask) {
      mask = maskOf(decoded.mask, job.mask === job.image)
      if (mask.width !== image.width || mask.height !== image.height)
        throw new InputImageError(
          'mask',
          `is ${mask.width}x${mask.height}; it must be the size of the image (${image.width}x${image.height})`,
        )
    }
    const painted: { image: InputImage; mask: InputMask } | undefined =
      mode === 'outpainting' && job.placement
        ? await placeOnCanvas(image, mask, job.placement, canvas)
        : mask && { image, mask }
    if (!painted) throw new InputImageError('mask', 'is missing')
    out.init = painted.image
    out.control = { type: 'inpainting', ...painted, strength: 1 }
    if (job.composite !== false) out.composite = painted
    strength = job.strength ?? 1
  }
  if (job.control) {
    if (!decoded.control) throw new InputImageError('control.image', 'is missing')
    out.control = {
      type: job.control.type,
      image: decoded.control,
      preprocessed: job.control.preprocessed,
      strength: job.control.strength,
    }
  }
  return Object.keys(out).length ? { inputs: out, ...(strength !== undefined ? { strength } : {}) } : {}
}
