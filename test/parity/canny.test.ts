// The ControlNet hints computed on the host against the official filters (golden image/cases): the CannyFilter
// (bilinear to 224², uint8, OpenCV 4.6 Canny, back to the input size) and the inpainting hint.
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { cannyFilter } from '../../gpu-backend/src/image/canny-filter.ts'
import { inpaintHint } from '../../gpu-backend/src/image/inpaint-hint.ts'
import { goldenPath, readCase } from './golden.ts'

const CASES = goldenPath('image', 'cases')
const caseFiles = (re: RegExp) => (existsSync(CASES) ? readdirSync(CASES).filter((f) => re.test(f)) : [])

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)))
  return m
}

describe('CannyFilter (golden canny_filter)', () => {
  const files = caseFiles(/^canny/)
  it('finds the cases', () => expect(files.length).toBeGreaterThan(0))
  for (const f of files)
    it(`${f}: output within 1e-6, so every edge at 224×224 is OpenCV's`, () => {
      const c = readCase(join(CASES, f))
      const image = c.get('image')
      const ref = c.get('output')
      // The filter's settings as the case's call records them (official: resize 224, thresholds 100 / 200).
      const call = c.file.metadata.call ?? ''
      const resize = /resize=(\d+)/.exec(call)?.[1]
      const thresholds = /Canny\([^,]+,\s*(\d+),\s*(\d+)\)/.exec(call)
      const out = cannyFilter(
        { data: image.data, dims: image.shape },
        {
          ...(resize ? { resize: Number(resize) } : {}),
          ...(thresholds ? { low: Number(thresholds[1]), high: Number(thresholds[2]) } : {}),
        },
      )
      expect(out.dims).toEqual(ref.shape)
      // One edge pixel more or less at 224² moves the resized output by at least ~1e-2 somewhere.
      const diff = maxAbsDiff(out.data, ref.data)
      console.log(
        `${f}: max abs diff ${diff.toExponential(2)}, ${ref.data.filter((v) => v > 0).length} nonzero`,
      )
      expect(diff).toBeLessThan(1e-6)
      expect(ref.data.some((v) => v > 0.5)).toBe(true)
    })
})

describe('inpainting hint (golden controlnet_inpaint_forward)', () => {
  const files = caseFiles(/^controlnet_inpaint/)
  it('finds the cases', () => expect(files.length).toBeGreaterThan(0))
  for (const f of files)
    it(`${f}: the recorded hint is [where(mask, 1, image), mask]`, () => {
      const hint = readCase(join(CASES, f)).get('hint')
      const [batch = 0, , height = 0, width = 0] = hint.shape
      const plane = height * width
      const image = new Float32Array(batch * 3 * plane)
      const mask = new Float32Array(batch * plane)
      for (let b = 0; b < batch; b++) {
        image.set(hint.data.subarray(b * 4 * plane, (b * 4 + 3) * plane), b * 3 * plane)
        mask.set(hint.data.subarray((b * 4 + 3) * plane, (b * 4 + 4) * plane), b * plane)
      }
      expect(mask.every((v) => v === 0 || v === 1)).toBe(true)
      expect(mask.some((v) => v === 1) && mask.some((v) => v === 0)).toBe(true)
      // Unmasked pixels keep the image, masked ones are white: rebuilding the hint from its parts is exact.
      const rebuilt = inpaintHint(
        { data: image, dims: [batch, 3, height, width] },
        { data: mask, dims: [batch, 1, height, width] },
      )
      expect(rebuilt.dims).toEqual(hint.shape)
      expect(maxAbsDiff(rebuilt.data, hint.data)).toBe(0)
    })
})
