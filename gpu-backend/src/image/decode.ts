// Input images, fully decoded with sharp: the header checks first (shared input-check.ts, the edge's own; an
// animated PNG is caught there, libvips would take its first frame), then libvips with a pixel limit (a
// decompression bomb is refused before its pixels are), EXIF orientation applied, any colour space (CMYK, grey,
// 16-bit) to 8-bit sRGB, and alpha kept apart: flattened onto white for the picture, and returned for masks.
import sharp, { type OutputInfo } from 'sharp'
import { checkInputImage, INPUT_LIMITS, type InputField } from '../../../shared/src/index.ts'

/** An input the backend cannot use; `field` is the request field it came in (the 400 names it). */
export class InputImageError extends Error {
  constructor(
    readonly field: InputField,
    message: string,
  ) {
    super(message)
  }
}

export interface DecodedImage {
  width: number
  height: number
  /** Interleaved 8-bit sRGB, alpha flattened onto white. */
  rgb8: Uint8Array
  /** 8-bit alpha, when the image has an alpha channel. */
  alpha?: Uint8Array
}

export async function decodeInputImage(bytes: Uint8Array, field: InputField): Promise<DecodedImage> {
  const check = checkInputImage(bytes)
  if (!check.ok) throw new InputImageError(field, check.message)
  const opts = { limitInputPixels: INPUT_LIMITS.maxPixels, failOn: 'warning' as const }
  let raw: { data: Buffer; info: OutputInfo }
  let hasAlpha: boolean
  try {
    const meta = await sharp(bytes, opts).metadata()
    if ((meta.pages ?? 1) > 1)
      throw new InputImageError(field, `is animated (${meta.pages} frames); send a still image`)
    hasAlpha = meta.hasAlpha === true
    raw = await sharp(bytes, opts)
      .rotate()
      .toColourspace('srgb')
      .ensureAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true })
  } catch (err) {
    if (err instanceof InputImageError) throw err
    throw new InputImageError(
      field,
      `could not be decoded as a ${check.header.format.toUpperCase()} (corrupt data)`,
    )
  }
  const { width, height } = raw.info
  if (width !== check.width || height !== check.height)
    throw new InputImageError(
      field,
      `decodes to ${width}x${height}, not the ${check.width}x${check.height} its header says`,
    )
  const plane = width * height
  const rgb8 = new Uint8Array(3 * plane)
  const alpha = new Uint8Array(plane)
  for (let p = 0; p < plane; p++) {
    const a = raw.data[4 * p + 3] as number
    alpha[p] = a
    for (let c = 0; c < 3; c++) {
      const v = raw.data[4 * p + c] as number
      rgb8[3 * p + c] = a === 255 ? v : Math.round((v * a + 255 * (255 - a)) / 255)
    }
  }
  return { width, height, rgb8, ...(hasAlpha ? { alpha } : {}) }
}
