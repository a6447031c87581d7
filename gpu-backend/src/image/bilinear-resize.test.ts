// torch.nn.functional.interpolate(bilinear, align_corners=False) on values small enough to check by hand
// (the golden canny_filter case pins the float32 rounding).
import { describe, expect, it } from 'vitest'
import { resizeBilinear } from './bilinear-resize.ts'

describe('resizeBilinear', () => {
  const x = { data: Float32Array.of(0, 1, 2, 3), dims: [1, 1, 2, 2] }

  it('up 2× uses half-pixel centres and clamps at the border, as torch does', () => {
    const out = resizeBilinear(x, 4, 4)
    expect(out.dims).toEqual([1, 1, 4, 4])
    expect(Array.from(out.data)).toEqual([
      0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3,
    ])
  })

  it('down 2× averages pairs; the same size copies', () => {
    const row = { data: Float32Array.of(0, 2, 4, 6, 10, 20, 30, 40), dims: [2, 1, 1, 4] }
    expect(Array.from(resizeBilinear(row, 1, 2).data)).toEqual([1, 5, 15, 35])
    expect(resizeBilinear(x, 2, 2).data).toEqual(x.data)
  })
})
