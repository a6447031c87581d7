// The contract between the backend's encoder and the edge's check of what it receives: every image the backend
// writes (sharp, all formats, odd sizes) passes the edge's completeness check and declares its true size.
import sharp from 'sharp'
import { describe, expect, it } from 'vitest'
import { imageSize, isCompleteImage } from '../../edge/src/backend/image-check.ts'
import { OUTPUT_FORMATS } from '../../shared/src/index.ts'
import { encodeImage } from '../src/pipeline/image.ts'

const rgb = (width: number, height: number) => ({
  width,
  height,
  data: new Uint8Array(width * height * 3).map((_, i) => (i * 31) % 256),
})

describe('edge image check on backend images', () => {
  for (const format of OUTPUT_FORMATS)
    it(`${format}: complete, with the size it was encoded at`, async () => {
      for (const [w, h] of [
        [640, 384],
        [129, 77],
      ] as const) {
        const bytes = await encodeImage(rgb(w, h), format, { prompt: 'x' })
        expect(isCompleteImage(format, bytes)).toBe(true)
        expect(imageSize(format, bytes)).toEqual({ width: w, height: h })
        expect(isCompleteImage(format, bytes.subarray(0, bytes.length - 10))).toBe(false)
      }
    })

  it('reads lossless WebP and extended (VP8X) WebP too', async () => {
    const raw = { raw: { width: 200, height: 120, channels: 3 as const } }
    const pixels = rgb(200, 120).data
    const lossless = new Uint8Array(await sharp(pixels, raw).webp({ lossless: true }).toBuffer())
    const extended = new Uint8Array(
      await sharp(pixels, raw)
        .webp()
        .withExif({ IFD0: { Copyright: 'x' } })
        .toBuffer(),
    )
    expect(imageSize('webp', lossless)).toEqual({ width: 200, height: 120 })
    expect(imageSize('webp', extended)).toEqual({ width: 200, height: 120 })
  })
})
