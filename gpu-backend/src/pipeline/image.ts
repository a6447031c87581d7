// Decoded float images -> 8-bit RGB -> PNG / WebP / JPEG (sharp).
import sharp from 'sharp'
import type { OutputFormat } from '../../../shared/src/index.ts'
import { withPngText } from './png-text.ts'
import type { HostTensor } from './tensor.ts'

/** numpy's round half to even, as diffusers' `numpy_to_pil` rounds (x·255 in float32 first). */
function toByte(x: number): number {
  const v = Math.fround(Math.min(Math.max(x, 0), 1) * 255)
  const r = Math.round(v)
  return r - v === 0.5 && r % 2 === 1 ? r - 1 : r
}

/** Image `i` of a (B, 3, H, W) tensor as interleaved RGB bytes: clamp to [0, 1], ×255, round. */
export function toRgb8(images: HostTensor, i: number): { data: Uint8Array; width: number; height: number } {
  const [, channels = 0, height = 0, width = 0] = images.dims
  if (channels !== 3) throw new Error(`expected RGB images, got [${images.dims}]`)
  const plane = height * width
  const src = images.data.subarray(i * 3 * plane, (i + 1) * 3 * plane)
  const data = new Uint8Array(3 * plane)
  for (let p = 0; p < plane; p++)
    for (let ch = 0; ch < 3; ch++) data[3 * p + ch] = toByte(src[ch * plane + p] as number)
  return { data, width, height }
}

/** Encodes an image; a PNG also carries `text` (the generation parameters) as text chunks. */
export async function encodeImage(
  rgb: { data: Uint8Array; width: number; height: number },
  format: OutputFormat,
  text: Record<string, string> = {},
): Promise<Uint8Array> {
  const img = sharp(rgb.data, { raw: { width: rgb.width, height: rgb.height, channels: 3 } })
  const encoded =
    format === 'png' ? img.png() : format === 'webp' ? img.webp({ quality: 90 }) : img.jpeg({ quality: 90 })
  const bytes = new Uint8Array(await encoded.toBuffer())
  return format === 'png' ? withPngText(bytes, text) : bytes
}

/** A live preview: a small JPEG (the previewer's 8× latent size), for SSE. */
export async function encodePreview(rgb: {
  data: Uint8Array
  width: number
  height: number
}): Promise<Uint8Array> {
  const img = sharp(rgb.data, { raw: { width: rgb.width, height: rgb.height, channels: 3 } })
  return new Uint8Array(await img.jpeg({ quality: 75 }).toBuffer())
}
