// The pipeline's only source of randomness. Noise is counter-based (Philox4x32-10, Salmon et al. 2011, as in
// Random123 / cuRAND): the value of every element is a pure function of (seed, stage, draw, index), so an image
// depends only on its own seed, never on the batch it was sampled in or on the order of draws.
//   key     = (seed, stage code: c = 1, b = 2)
//   counter = (index / 4, draw, 0, 0)    draw 0: the initial latent; draw k + 1: the noise of step k
// The 4 words of a block give two Box-Muller pairs: u1 = (w + 1)/2³², u2 = w'/2³²,
// z = sqrt(−2 ln u1)·(cos 2πu2, sin 2πu2), rounded to float32.
import type { DiffusionStage } from './tensor.ts'

export interface NoiseSource {
  /**
   * Standard-normal tensor of `shape` (batch first) for one draw of one stage. A source may compute it elsewhere
   * (noise-thread.ts): the sampling loop asks for a step's noise before the model call that precedes its use.
   */
  draw(stage: DiffusionStage, draw: number, shape: readonly number[]): Float32Array | Promise<Float32Array>
}

/** A source that computes each draw on the calling thread. */
export interface HostNoiseSource extends NoiseSource {
  draw(stage: DiffusionStage, draw: number, shape: readonly number[]): Float32Array
}

const M0 = 0xd2511f53
const M1 = 0xcd9e8d57
const W0 = 0x9e3779b9
const W1 = 0xbb67ae85

/** High 32 bits of the 64-bit product of two uint32 (exact: 16-bit limbs keep every partial product < 2⁵³). */
function mulhi(a: number, b: number): number {
  const aL = a & 0xffff
  const aH = a >>> 16
  const bL = b & 0xffff
  const bH = b >>> 16
  const lh = aL * bH
  const hl = aH * bL
  // < 3·2¹⁶, so the shift is exact.
  const mid = ((aL * bL) >>> 16) + (lh & 0xffff) + (hl & 0xffff)
  return (aH * bH + (lh >>> 16) + (hl >>> 16) + (mid >>> 16)) >>> 0
}

/** Philox4x32-10 of the counter block (c0..c3) under key (k0, k1), into `out`; scalar arguments, so a hot loop
 * allocates nothing. */
function philoxBlock(
  c0: number,
  c1: number,
  c2: number,
  c3: number,
  k0: number,
  k1: number,
  out: Uint32Array,
): void {
  for (let round = 0; round < 10; round++) {
    const hi0 = mulhi(M0, c0)
    const lo0 = Math.imul(M0, c0) >>> 0
    const hi1 = mulhi(M1, c2)
    const lo1 = Math.imul(M1, c2) >>> 0
    c0 = (hi1 ^ c1 ^ k0) >>> 0
    c1 = lo1
    c2 = (hi0 ^ c3 ^ k1) >>> 0
    c3 = lo0
    k0 = (k0 + W0) >>> 0
    k1 = (k1 + W1) >>> 0
  }
  out[0] = c0
  out[1] = c1
  out[2] = c2
  out[3] = c3
}

/** Philox4x32-10 of one counter block; writes 4 words into `out`. */
export function philox4x32(ctr: readonly number[], key: readonly number[], out: Uint32Array): void {
  const w = (v: number | undefined) => (v ?? 0) >>> 0
  philoxBlock(w(ctr[0]), w(ctr[1]), w(ctr[2]), w(ctr[3]), w(key[0]), w(key[1]), out)
}

const STAGE_CODE: Record<DiffusionStage, number> = { c: 1, b: 2 }
const TWO_PI = 2 * Math.PI
const INV_2_32 = 1 / 2 ** 32

/** `n` standard normals of one (seed, stage, draw) stream. */
export function philoxNormals(seed: number, stage: DiffusionStage, draw: number, n: number): Float32Array {
  const out = new Float32Array(n)
  const words = new Uint32Array(4)
  const [k0, k1, d] = [seed >>> 0, STAGE_CODE[stage], draw >>> 0]
  for (let block = 0; block * 4 < n; block++) {
    philoxBlock(block, d, 0, 0, k0, k1, words)
    for (let pair = 0; pair < 2; pair++) {
      const u1 = ((words[2 * pair] as number) + 1) * INV_2_32
      const u2 = (words[2 * pair + 1] as number) * INV_2_32
      const radius = Math.sqrt(-2 * Math.log(u1))
      const i = block * 4 + pair * 2
      if (i < n) out[i] = radius * Math.cos(TWO_PI * u2)
      if (i + 1 < n) out[i + 1] = radius * Math.sin(TWO_PI * u2)
    }
  }
  return out
}

/** Image i of the batch draws from its own seed. */
export function seededNoise(seeds: readonly number[]): HostNoiseSource {
  return {
    draw(stage, draw, shape) {
      const [batch = 0, ...rest] = shape
      if (batch !== seeds.length) throw new Error(`noise for ${batch} images, ${seeds.length} seeds`)
      const per = rest.reduce((a, b) => a * b, 1)
      const out = new Float32Array(batch * per)
      seeds.forEach((seed, i) => {
        out.set(philoxNormals(seed, stage, draw, per), i * per)
      })
      return out
    },
  }
}
