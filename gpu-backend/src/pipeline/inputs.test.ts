import { describe, expect, it } from 'vitest'
import { imageTensor, maskTensor } from './inputs.ts'

describe('input resampling', () => {
  it('a mask keeps its layout at another size (one channel in, one out), centre-cropped to the aspect', async () => {
    // 8×4, the right half repainted -> 16×8 (same aspect): the right half.
    const repaint = Uint8Array.from({ length: 32 }, (_, i) => (i % 8 >= 4 ? 1 : 0))
    const m = await maskTensor({ width: 8, height: 4, repaint }, 16, 8)
    expect(m.dims).toEqual([1, 1, 8, 16])
    for (let y = 0; y < 8; y++)
      expect(Array.from(m.data.subarray(y * 16, (y + 1) * 16))).toEqual([
        ...Array(8).fill(0),
        ...Array(8).fill(1),
      ])
    // -> 4×4: the centre square (columns 2..5 of 8), half kept, half repainted.
    const square = await maskTensor({ width: 8, height: 4, repaint }, 4, 4)
    expect(Array.from(square.data.subarray(0, 4))).toEqual([0, 0, 1, 1])
  })

  it('an image is exactly its planes at its own size, and 8-bit RGB in [0, 1] at another', async () => {
    const planes = Float32Array.from({ length: 3 * 6 }, (_, i) => i / 17)
    expect((await imageTensor({ width: 3, height: 2, planes }, 3, 2)).data).toBe(planes)
    const rgb8 = new Uint8Array(3 * 16).fill(255)
    const t = await imageTensor({ width: 4, height: 4, rgb8 }, 8, 2)
    expect(t.dims).toEqual([1, 3, 2, 8])
    expect(Math.min(...t.data)).toBe(1)
  })
})
