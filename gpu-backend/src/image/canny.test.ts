// OpenCV Canny's rules on images whose edges are known (the golden canny_filter case checks real images).
import { describe, expect, it } from 'vitest'
import { canny } from './canny.ts'
import { cannyFilter } from './canny-filter.ts'

const W = 16
const H = 16
const plane = (f: (y: number, x: number) => number) =>
  Uint8Array.from({ length: W * H }, (_, i) => f(Math.floor(i / W), i % W))
const edgeCells = (e: Uint8Array) =>
  [...e].flatMap((v, i) => (v ? [[Math.floor(i / W), i % W] as [number, number]] : []))
const columns = (e: Uint8Array) => [...new Set(edgeCells(e).map(([, x]) => x))]
const rows = (e: Uint8Array) => [...new Set(edgeCells(e).map(([y]) => y))].sort((a, b) => a - b)

describe('canny (OpenCV 4.6, aperture 3, L1)', () => {
  it('a vertical step: one edge column, on the side the tie rule keeps (m > left, m >= right)', () => {
    const step = plane((_, x) => (x < 8 ? 0 : 255))
    const e = canny([step], W, H, 100, 200).data
    // Columns 7 and 8 have the same |dx| + |dy|; suppression keeps the left one.
    expect(columns(e)).toEqual([7])
    expect(rows(e)).toEqual(Array.from({ length: H }, (_, y) => y))
    expect(new Set(e)).toEqual(new Set([0, 255]))
  })

  it('hysteresis: a weak edge (above low only) survives where it touches a strong one', () => {
    // |dx| + |dy| of a step of s is 4·s: 40 -> 160 is between 100 and 200, 255 -> 1020 above both.
    const weakOnly = plane((_, x) => (x < 8 ? 0 : 40))
    expect(edgeCells(canny([weakOnly], W, H, 100, 200).data)).toEqual([])
    const joined = plane((y, x) => (x < 8 ? 0 : y < 4 ? 255 : 40))
    const e = canny([joined], W, H, 100, 200).data
    expect(rows(e)).toEqual(Array.from({ length: H }, (_, y) => y))
    // With the low threshold above 160 the weak part is no candidate: only the strong rows and the corner remain.
    expect(Math.max(...rows(canny([joined], W, H, 200, 1100).data))).toBeLessThan(5)
  })

  it('several channels: each pixel takes the channel with the strongest gradient, not their mean', () => {
    const up = plane((_, x) => (x < 8 ? 0 : 255))
    const down = plane((_, x) => (x < 8 ? 255 : 0))
    const flat = plane(() => 90)
    // Opposite steps cancel in a gray image; OpenCV keeps the edge.
    expect(columns(canny([up, flat, down], W, H, 100, 200).data)).toEqual([7])
    const gray = plane((y, x) => Math.round(((up[y * W + x] as number) + (down[y * W + x] as number)) / 2))
    expect(edgeCells(canny([gray], W, H, 100, 200).data)).toEqual([])
    // A weak vertical step beside a strong horizontal one: where the horizontal step's channel wins, suppression
    // runs vertically and breaks the weak column under the strong row (rows 0-4 only).
    const weakVertical = plane((_, x) => (x < 8 ? 0 : 40))
    const strongHorizontal = plane((y) => (y < 5 ? 0 : 255))
    expect(rows(canny([weakVertical, flat, strongHorizontal], W, H, 100, 200).data)).toEqual([0, 1, 2, 3, 4])
  })

  it('thresholds are taken in either order', () => {
    const step = plane((_, x) => (x < 8 ? 0 : 255))
    expect(canny([step], W, H, 200, 100).data).toEqual(canny([step], W, H, 100, 200).data)
  })
})

describe('cannyFilter (the official CannyFilter)', () => {
  it('(B, 3, H, W) in [0, 1] -> (B, 1, H, W) in [0, 1], edges where the image has them', () => {
    // Larger than 224 both ways: resizing back down without antialiasing can skip a one-pixel edge (as torch's does).
    const [h, w] = [240, 300]
    const image = Float32Array.from({ length: 2 * 3 * h * w }, (_, i) => {
      const b = Math.floor(i / (3 * h * w))
      const x = i % w
      return b === 0 && x >= w / 2 ? 1 : 0
    })
    const out = cannyFilter({ data: image, dims: [2, 3, h, w] })
    expect(out.dims).toEqual([2, 1, h, w])
    expect(out.data.every((v) => v >= 0 && v <= 1)).toBe(true)
    const first = out.data.subarray(0, h * w)
    const second = out.data.subarray(h * w)
    expect(second.every((v) => v === 0)).toBe(true)
    // Image 0's edge lies around its middle column, nowhere else.
    const lit = [...first].flatMap((v, i) => (v > 0 ? [i % w] : []))
    expect(lit.length).toBeGreaterThan(0)
    expect(Math.min(...lit)).toBeGreaterThanOrEqual(w / 2 - 2)
    expect(Math.max(...lit)).toBeLessThanOrEqual(w / 2 + 1)
  })
})
