// Input images of a generation as the pipeline takes them (plain data, so a request crosses to the pipeline
// worker as it is) and their resampling to the sizes the graphs need. Every use (CLIP vision's square, the
// effnet grid, a ControlNet hint, the output for compositing) scales the image to cover the size and crops the
// centre (sharp, bicubic), so an input whose aspect differs from the output's is cropped, never stretched.
import sharp from 'sharp'
import type { HostTensor } from './tensor.ts'

/** Decoded 8-bit RGB (interleaved, alpha already flattened), or float RGB planes (3, H, W) in [0, 1]. */
export type InputImage =
  | { width: number; height: number; rgb8: Uint8Array }
  | { width: number; height: number; planes: Float32Array }

/** An inpainting mask: 1 = repaint, 0 = keep. */
export interface InputMask {
  width: number
  height: number
  repaint: Uint8Array
}

const planesToRgb8 = (img: { width: number; height: number; planes: Float32Array }) => {
  const plane = img.width * img.height
  const out = new Uint8Array(3 * plane)
  for (let p = 0; p < plane; p++)
    for (let c = 0; c < 3; c++)
      out[3 * p + c] = Math.round(Math.min(Math.max(img.planes[c * plane + p] as number, 0), 1) * 255)
  return out
}

/**
 * 8-bit raw pixels resized with sharp: 'cover' scales to cover and crops the centre, 'fill' stretches. One channel
 * stays one (sharp would answer a grey image as sRGB).
 */
export async function resampleRaw(
  data: Uint8Array,
  from: { width: number; height: number },
  channels: 1 | 3,
  to: { width: number; height: number },
  o: { fit: 'cover' | 'fill'; kernel: 'cubic' | 'linear' },
): Promise<Uint8Array> {
  let img = sharp(data, { raw: { width: from.width, height: from.height, channels } }).resize(
    to.width,
    to.height,
    {
      fit: o.fit,
      position: 'centre',
      kernel: o.kernel,
    },
  )
  if (channels === 1) img = img.extractChannel(0)
  const out = await img.raw().toBuffer()
  if (out.length !== to.width * to.height * channels)
    throw new Error(`resampleRaw: ${out.length} bytes for ${to.width}×${to.height}×${channels}`)
  return new Uint8Array(out.buffer, out.byteOffset, out.length)
}

/** The image as (1, 3, height, width) in [0, 1]; exactly the input when the size already matches. */
export async function imageTensor(img: InputImage, width: number, height: number): Promise<HostTensor> {
  const dims = [1, 3, height, width]
  const same = img.width === width && img.height === height
  if (same && 'planes' in img) return { data: img.planes, dims }
  const rgb = 'rgb8' in img ? img.rgb8 : planesToRgb8(img)
  const bytes = same
    ? rgb
    : await resampleRaw(rgb, img, 3, { width, height }, { fit: 'cover', kernel: 'cubic' })
  const plane = width * height
  const data = new Float32Array(3 * plane)
  for (let p = 0; p < plane; p++)
    for (let c = 0; c < 3; c++) data[c * plane + p] = (bytes[3 * p + c] as number) / 255
  return { data, dims }
}

/** The mask as (1, 1, height, width) of 0 / 1, resampled as the image is (bilinear, then ≥ half is repaint). */
export async function maskTensor(mask: InputMask, width: number, height: number): Promise<HostTensor> {
  const same = mask.width === width && mask.height === height
  const bytes = same
    ? mask.repaint
    : await resampleRaw(
        mask.repaint.map((v) => (v ? 255 : 0)),
        mask,
        1,
        { width, height },
        { fit: 'cover', kernel: 'linear' },
      )
  const data = Float32Array.from(bytes, (v) => (same ? (v ? 1 : 0) : v >= 128 ? 1 : 0))
  return { data, dims: [1, 1, height, width] }
}
