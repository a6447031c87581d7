import { describe, expect, it } from 'vitest'
import { quantizeBlocks, quantizeColumns } from './int8.ts'

describe('quantizeColumns', () => {
  it('maps each column onto [-127, 127] with its own scale, within half a step', () => {
    // (K = 3, N = 2): column 0 spans ±2.54, column 1 ±0.0127.
    const w = Float32Array.from([2.54, 0.0127, -1, -0.005, 0.3, 0.001])
    const { q, scale } = quantizeColumns(w, 3, 2)
    expect([...scale].map((s) => s * 127)).toEqual([expect.closeTo(2.54, 6), expect.closeTo(0.0127, 8)])
    expect([...q]).toEqual([127, 127, -50, -50, 15, 10])
    for (let i = 0; i < w.length; i++)
      expect(Math.abs((q[i] as number) * (scale[i % 2] as number) - (w[i] as number))).toBeLessThanOrEqual(
        (scale[i % 2] as number) / 2 + 1e-9,
      )
  })

  it('never uses -128 and gives an all-zero column scale 1', () => {
    const { q, scale } = quantizeColumns(Float32Array.from([-3, 0, 3, 0]), 2, 2)
    expect([...q]).toEqual([-127, 0, 127, 0])
    expect(scale[1]).toBe(1)
  })

  it('refuses a shape that does not fit the data', () => {
    expect(() => quantizeColumns(new Float32Array(5), 2, 3)).toThrow(/5 values for \(2, 3\)/)
  })
})

describe('quantizeBlocks', () => {
  it('scales each column per block of K, stores q + 128 column-major by block, and pads the last block', () => {
    // (K = 3, N = 2), blocks of 2: column 0 rows [1, -2 | 0.5], column 1 rows [0.05, 0.2 | -4].
    const w = Float32Array.from([1, 0.05, -2, 0.2, 0.5, -4])
    const { q, scale } = quantizeBlocks(w, 3, 2, 2)
    expect([...scale].map((s) => s * 127)).toEqual([
      expect.closeTo(2, 6),
      expect.closeTo(0.5, 6),
      expect.closeTo(0.2, 6),
      expect.closeTo(4, 6),
    ])
    expect([...q].map((v) => v - 128)).toEqual([64, -127, 127, 0, 32, 127, -127, 0])
  })
})
