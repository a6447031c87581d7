// Circular shifts for the tiling tests: torch.roll over an NCHW tensor's spatial axes, and the shifts that are
// whole at every stage of a generation, read off the model's tile graphs and latent sizes.
import type { Manifest } from '../src/compiler/manifest.ts'
import { tileGeometry } from '../src/compiler/tile-geometry.ts'
import type { LatentSizes } from '../src/pipeline/latents.ts'

export type Shift = [number, number]

/** out[..., (i + dy) mod H, (j + dx) mod W] = x[..., i, j] (torch.roll(x, (dy, dx), (-2, -1))). */
export function roll(x: Float32Array, dims: readonly number[], [dy, dx]: Shift): Float32Array {
  const h = dims.at(-2) as number
  const w = dims.at(-1) as number
  const out = new Float32Array(x.length)
  const mod = (v: number, n: number) => ((v % n) + n) % n
  for (let p = 0; p < x.length; p += h * w)
    for (let i = 0; i < h; i++)
      for (let j = 0; j < w; j++) out[p + mod(i + dy, h) * w + mod(j + dx, w)] = x[p + i * w + j] as number
  return out
}

export interface StageShifts {
  /** Stage C cells, Stage B cells, pixels: (height, width). */
  c: Shift
  b: Shift
  image: Shift
}

/**
 * Per axis, the `multiple`-th smallest Stage C shift that is whole everywhere: a multiple of Stage C's stride
 * whose Stage B counterpart (scaled by the latent sizes' ratio, which Stage B's effnet resize follows) is whole and
 * a multiple of Stage B's stride; Stage A's decoder scales that to pixels.
 */
export function wholeShifts(manifest: Manifest, sizes: LatentSizes, multiples: Shift = [1, 1]): StageShifts {
  const c = tileGeometry(manifest, 'c')
  const b = tileGeometry(manifest, 'b')
  const a = tileGeometry(manifest, 'a')
  const axis = (k: 0 | 1): [number, number] => {
    const [nc, nb] = [sizes.c[k], sizes.b[k]]
    let found = 0
    for (let s = c.stride; s < nc; s += c.stride) {
      const sb = (s * nb) / nc
      if (Number.isInteger(sb) && sb % b.stride === 0 && ++found === multiples[k]) return [s, sb]
    }
    throw new Error(`no whole shift on axis ${k} for latents ${nc} -> ${nb}`)
  }
  const [[ch, bh], [cw, bw]] = [axis(0), axis(1)]
  return { c: [ch, cw], b: [bh, bw], image: [bh * a.scale, bw * a.scale] }
}
