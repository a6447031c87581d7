// The checks an input image passes before anything is queued or stored (the edge) and before it is decoded (the
// backend, which then decodes it fully): a PNG, JPEG or WebP, whole, still, within INPUT_LIMITS by its header.
import { type ImageHeader, orientedSize, readImageHeader } from './image-header.ts'
import { INPUT_LIMITS } from './schemas/inputs.ts'

export type InputCheck =
  | { ok: true; header: ImageHeader; width: number; height: number }
  | { ok: false; message: string }

export function checkInputImage(bytes: Uint8Array): InputCheck {
  const { maxBytes, minSide, maxSide, maxPixels } = INPUT_LIMITS
  const no = (message: string): InputCheck => ({ ok: false, message })
  if (bytes.length > maxBytes) return no(`is ${bytes.length} bytes; an input image is at most ${maxBytes}`)
  const header = readImageHeader(bytes)
  if (!header) return no('is not a PNG, JPEG or WebP image')
  if (!header.complete)
    return no(`is a truncated ${header.format.toUpperCase()} (the file ends before the image)`)
  if (header.animated) return no('is animated; send a still image')
  const { width, height } = orientedSize(header)
  if ([width, height].some((s) => s < minSide || s > maxSide) || width * height > maxPixels)
    return no(
      `is ${width}x${height}; each side must be ${minSide}..${maxSide} px, ${maxPixels} pixels at most`,
    )
  return { ok: true, header, width, height }
}
