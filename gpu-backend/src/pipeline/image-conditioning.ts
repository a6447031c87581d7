// The image inputs of a batch -> what Stage C takes from them (models/image-features.md):
// - variation: CLIP vision's image_embeds of the image (shorter side to the model's size, centre crop) as the
//   conditional rows' clip_img; the unconditional rows keep zeros, as the official recipe feeds them;
// - img2img / inpainting: the EfficientNet latent of the image at exactly 32·(Stage C grid), to be noised to the
//   start time (generate.ts);
// - ControlNets: the hint at hint_stride·(Stage C grid) (canny: the official CannyFilter, or a ready edge map
//   averaged to one channel; inpainting: [where(mask, 1, image), mask]), through the ControlNet once, times its
//   strength, the same tensors for the conditional and unconditional rows.
// Each graph runs once per distinct input of the batch (n images of one request share theirs).
import { cannyFilter } from '../image/canny-filter.ts'
import { inpaintHint } from '../image/inpaint-hint.ts'
import { runFloat32 } from '../runtime/session.ts'
import type { ControlNetGraph, ImageGraphs } from './image-graphs.ts'
import { type InputImage, type InputMask, imageTensor, maskTensor } from './inputs.ts'
import { type HostTensor, numel, outputOf } from './tensor.ts'

export type ControlInput =
  | { type: 'canny'; image: InputImage; preprocessed: boolean; strength: number }
  | { type: 'inpainting'; image: InputImage; mask: InputMask; strength: number }

/** The image inputs of one image of a batch. */
export interface ImageInputs {
  /** img2img and inpainting: start from this image's latent, noised to the request's `strength`. */
  init?: InputImage
  /** Variation: condition on this image's CLIP embedding. */
  variation?: InputImage
  control?: ControlInput
  /** Put the pixels of `image` that `mask` keeps back into the result (inpainting, outpainting). */
  composite?: { image: InputImage; mask: InputMask }
}

export interface ImageConditioning {
  /** clip_img of the conditional rows, (B, 1, P); absent without a variation. */
  clipImg?: HostTensor
  /** The init images' Stage C latents, (B, 16, h, w); absent without init images. */
  init?: HostTensor
  /** Stage C's `cnet_<k>` inputs some ControlNet feeds (the rest stay zeros), for every row of both halves. */
  cnet: Record<string, HostTensor>
}

export class ImageInputError extends Error {}

/** Runs `compute` once per distinct key object. */
function once<K extends object, V>(compute: (k: K) => Promise<V>): (k: K) => Promise<V> {
  const memo = new Map<K, Promise<V>>()
  return (k) => {
    let v = memo.get(k)
    if (!v) {
      v = compute(k)
      memo.set(k, v)
    }
    return v
  }
}

/** Rows (1, ...) stacked into (B, ...), zeros where a row has none; undefined when no row has one. */
function stackRows(rows: (HostTensor | undefined)[]): HostTensor | undefined {
  const first = rows.find((r) => r !== undefined)
  if (!first) return undefined
  const per = numel(first.dims.slice(1))
  const data = new Float32Array(rows.length * per)
  rows.forEach((r, i) => {
    if (!r) return
    if (r.data.length !== per)
      throw new ImageInputError(`image ${i}: [${r.dims}] does not stack with [${first.dims}]`)
    data.set(r.data, i * per)
  })
  return { data, dims: [rows.length, ...first.dims.slice(1)] }
}

async function hintOf(cn: ControlNetGraph, control: ControlInput, h: number, w: number): Promise<HostTensor> {
  const image = await imageTensor(control.image, w, h)
  if (control.type === 'inpainting') return inpaintHint(image, await maskTensor(control.mask, w, h))
  if (!control.preprocessed) return cannyFilter(image)
  // A ready edge map: its channels averaged to the one the canny ControlNet takes.
  const plane = h * w
  const gray = new Float32Array(plane)
  for (let p = 0; p < plane; p++)
    gray[p] =
      ((image.data[p] as number) +
        (image.data[plane + p] as number) +
        (image.data[2 * plane + p] as number)) /
      3
  if (cn.cIn !== 1)
    throw new ImageInputError(`the ${cn.type} ControlNet takes ${cn.cIn} hint channels, not 1`)
  return { data: gray, dims: [1, 1, h, w] }
}

/** The image encoders of a model: CLIP vision, the EfficientNet encoder, the ControlNets (injectable, as text is). */
export interface ImageEncoders {
  /** CLIP vision's image_embeds of the image, (1, 1, P): clip_img. */
  embed(image: InputImage): Promise<HostTensor>
  /** The Stage C latent of the image scaled to 32·grid, (1, 16, h, w). */
  encode(image: InputImage, grid: readonly [number, number]): Promise<HostTensor>
  /** The ControlNet's outputs for the control's hint at hint_stride·grid, times its strength, by Stage C input. */
  control(control: ControlInput, grid: readonly [number, number]): Promise<Record<string, HostTensor>>
}

/** The image graphs `rows` need that `graphs` lacks, in words (empty: the model can run them). */
export function missingGraphs(graphs: ImageGraphs, rows: readonly (ImageInputs | undefined)[]): string[] {
  const missing = new Set<string>()
  for (const r of rows) {
    if (r?.variation && !graphs.clipVision) missing.add('CLIP vision graph (variation)')
    if (r?.init && !graphs.effnet) missing.add('EfficientNet encoder (img2img, inpainting)')
    if (r?.control && !graphs.controlnets[r.control.type]) missing.add(`${r.control.type} ControlNet`)
  }
  return [...missing]
}

/** The encoders of a model directory's image graphs; one it lacks is an ImageInputError. */
export function graphEncoders(graphs: ImageGraphs): ImageEncoders {
  const need = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new ImageInputError(`the model has no ${what}`)
    return v
  }
  return {
    async embed(img) {
      const { session, size } = need(graphs.clipVision, 'CLIP vision graph (variation)')
      const e = outputOf(
        await runFloat32(session, { image: await imageTensor(img, size, size) }),
        'image_embeds',
      )
      return { data: e.data, dims: [1, 1, e.dims[1] as number] }
    },
    async encode(img, [h, w]) {
      const effnet = need(graphs.effnet, 'EfficientNet encoder (img2img, inpainting)')
      const latent = outputOf(
        await runFloat32(effnet, { image: await imageTensor(img, 32 * w, 32 * h) }),
        'latent',
      )
      if (latent.dims[2] !== h || latent.dims[3] !== w)
        throw new ImageInputError(
          `the encoder gave a ${latent.dims.slice(2).join('×')} latent for a ${h}×${w} grid`,
        )
      return latent
    },
    async control(c, [h, w]) {
      const cn = need(graphs.controlnets[c.type], `${c.type} ControlNet`)
      const hint = await hintOf(cn, c, cn.hintStride * h, cn.hintStride * w)
      const out = await runFloat32(cn.session, { hint })
      return Object.fromEntries(
        Object.entries(out).map(([k, t]) => [k, { data: t.data.map((v) => v * c.strength), dims: t.dims }]),
      )
    },
  }
}

export async function conditionImages(
  encoders: ImageEncoders,
  rows: readonly (ImageInputs | undefined)[],
  grid: readonly [number, number],
): Promise<ImageConditioning> {
  const embed = once((img: InputImage) => encoders.embed(img))
  const encode = once((img: InputImage) => encoders.encode(img, grid))
  const control = once((c: ControlInput) => encoders.control(c, grid))
  const clip = await Promise.all(rows.map((r) => (r?.variation ? embed(r.variation) : undefined)))
  const init = await Promise.all(rows.map((r) => (r?.init ? encode(r.init) : undefined)))
  const cnets = await Promise.all(rows.map((r) => (r?.control ? control(r.control) : undefined)))
  const names = new Set(cnets.flatMap((c) => Object.keys(c ?? {})))
  const cnet: Record<string, HostTensor> = {}
  for (const name of names) cnet[name] = stackRows(cnets.map((c) => c?.[name])) as HostTensor
  const clipImg = stackRows(clip)
  const initLatent = stackRows(init)
  return { ...(clipImg ? { clipImg } : {}), ...(initLatent ? { init: initLatent } : {}), cnet }
}
