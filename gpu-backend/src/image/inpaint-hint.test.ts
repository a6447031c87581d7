import { describe, expect, it } from 'vitest'
import { inpaintHint } from './inpaint-hint.ts'

describe('inpaintHint', () => {
  it('masked pixels turn white, the fourth channel is the mask (0 / 1)', () => {
    const image = {
      data: Float32Array.of(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0, 0.25, 0.5),
      dims: [1, 3, 2, 2],
    }
    const mask = { data: Float32Array.of(1, 0, 0, 0.5), dims: [1, 1, 2, 2] }
    const hint = inpaintHint(image, mask)
    expect(hint.dims).toEqual([1, 4, 2, 2])
    expect(Array.from(hint.data)).toEqual(
      [1, 0.2, 0.3, 1, 1, 0.6, 0.7, 1, 1, 0, 0.25, 1, 1, 0, 0, 1].map(Math.fround),
    )
  })

  it('refuses a mask that does not match the image, naming both shapes', () => {
    const image = { data: new Float32Array(12), dims: [1, 3, 2, 2] }
    expect(() => inpaintHint(image, { data: new Float32Array(8), dims: [2, 1, 2, 2] })).toThrow(
      /mask must be \[1,1,2,2\] to match the image, got \[2,1,2,2\]/,
    )
  })
})
