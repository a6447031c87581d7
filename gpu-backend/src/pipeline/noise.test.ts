import { describe, expect, it } from 'vitest'
import { philox4x32, philoxNormals, seededNoise } from './noise.ts'
import { threadNoise } from './noise-thread.ts'

const hex = (w: Uint32Array) => Array.from(w, (v) => v.toString(16).padStart(8, '0'))

describe('Philox4x32-10', () => {
  // Known-answer vectors of Random123 (kat_vectors: philox4x32 10).
  it.each([
    [
      [0, 0, 0, 0],
      [0, 0],
      ['6627e8d5', 'e169c58d', 'bc57ac4c', '9b00dbd8'],
    ],
    [
      [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff],
      [0xffffffff, 0xffffffff],
      ['408f276d', '41c83b0e', 'a20bc7c6', '6d5451fd'],
    ],
    [
      [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
      [0xa4093822, 0x299f31d0],
      ['d16cfe09', '94fdcceb', '5001e420', '24126ea1'],
    ],
  ])('ctr %j key %j', (ctr, key, want) => {
    const out = new Uint32Array(4)
    philox4x32(ctr, key, out)
    expect(hex(out)).toEqual(want)
  })
})

describe('seeded noise', () => {
  it('is standard normal', () => {
    const z = philoxNormals(42, 'c', 0, 200_000)
    let mean = 0
    for (const v of z) mean += v
    mean /= z.length
    let v2 = 0
    for (const v of z) v2 += (v - mean) ** 2
    expect(Math.abs(mean)).toBeLessThan(0.01)
    expect(Math.abs(v2 / z.length - 1)).toBeLessThan(0.01)
  })
  it('depends on the seed, stage and draw only, not on the batch', () => {
    const alone = seededNoise([7]).draw('b', 3, [1, 2, 3, 5])
    const batched = seededNoise([5, 7]).draw('b', 3, [2, 2, 3, 5])
    expect(batched.subarray(30)).toEqual(alone)
    expect(batched.subarray(0, 30)).not.toEqual(alone)
    expect(seededNoise([7]).draw('c', 3, [1, 2, 3, 5])).not.toEqual(alone)
    expect(seededNoise([7]).draw('b', 4, [1, 2, 3, 5])).not.toEqual(alone)
    expect(seededNoise([7]).draw('b', 3, [1, 2, 3, 5])).toEqual(alone)
  })
})

describe('noise on the noise thread', () => {
  it('draws exactly what seededNoise draws, for concurrent requests', async () => {
    const shape = [2, 4, 16, 16]
    const thread = threadNoise([3, 9])
    const draws = await Promise.all([0, 1, 2].map((d) => thread.draw('b', d, shape)))
    draws.forEach((z, d) => {
      expect(z).toEqual(seededNoise([3, 9]).draw('b', d, shape))
    })
  })
  it('rejects a draw whose batch does not match its seeds, and keeps serving', async () => {
    await expect(threadNoise([1]).draw('c', 0, [2, 3])).rejects.toThrow('noise for 2 images, 1 seeds')
    expect(await threadNoise([1]).draw('c', 0, [1, 3])).toEqual(seededNoise([1]).draw('c', 0, [1, 3]))
  })
})
