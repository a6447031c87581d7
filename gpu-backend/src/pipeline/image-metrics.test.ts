import { describe, expect, it } from 'vitest'
import { psnr, relL2, ssim } from './image-metrics.ts'

const image = (width: number, height: number, f: (i: number) => number) => ({
  width,
  height,
  data: Uint8Array.from({ length: width * height * 3 }, (_, i) => f(i)),
})

describe('image metrics', () => {
  it('PSNR: infinite for equal images, 20·log10(255/e) for a constant error e', () => {
    const a = image(16, 16, (i) => (i * 7) % 200)
    expect(psnr(a, a)).toBe(Number.POSITIVE_INFINITY)
    const b = { ...a, data: a.data.map((v) => v + 5) }
    expect(psnr(a, b)).toBeCloseTo(20 * Math.log10(255 / 5), 10)
  })

  it('SSIM: 1 for equal images, lower for noise, lower still for more', () => {
    const a = image(64, 64, (i) => Math.floor(128 + 100 * Math.sin(i / 97)))
    const noisy = (amp: number) => ({
      ...a,
      data: a.data.map((v, i) => v + (((i * 2654435761) >>> 0) % (2 * amp + 1)) - amp),
    })
    expect(ssim(a, a)).toBe(1)
    const [low, high] = [ssim(a, noisy(3)), ssim(a, noisy(30))]
    expect(low).toBeLessThan(1)
    expect(high).toBeLessThan(low)
  })

  it('relL2 against the reference, and refuses tensors of different sizes', () => {
    expect(relL2([3, 4], [3, 4])).toBe(0)
    expect(relL2([3, 4.5], [3, 4])).toBeCloseTo(0.5 / 5, 12)
    expect(() => relL2([1], [1, 2])).toThrow(/1 values against 2/)
  })

  it('refuses images of different sizes', () => {
    expect(() =>
      psnr(
        image(2, 2, () => 0),
        image(2, 3, () => 0),
      ),
    ).toThrow(/2×2 and 2×3/)
  })
})
