import { describe, expect, it } from 'vitest'
import { rng } from '../compiler/make-tiny.ts'
import { createSession, floatTensor, ort } from '../runtime/session.ts'
import { guidanceFeeds } from './cfg.ts'
import { DEFAULT_STAGE_C_TIMESTEPS, ddpmWuerstchen } from './ddpm-wuerstchen.ts'
import { gdfDdpm } from './gdf-ddpm.ts'
import type { Sampler } from './sampler.ts'
import { stepGraph } from './step-graph.ts'

const SAMPLERS: Record<string, Sampler> = {
  'GDF (shift 2, CFG rescale 0.7)': gdfDdpm({ shift: 2, cfgRho: 0.7 }),
  'GDF (shift 1, no rescale)': gdfDdpm({ shift: 1, cfgRho: 0 }),
  DDPMWuerstchen: ddpmWuerstchen({ preset: DEFAULT_STAGE_C_TIMESTEPS }),
}

function randn(n: number, seed: number, scale = 1): Float32Array {
  const r = rng(seed)
  return Float32Array.from(
    { length: n },
    () => scale * Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r()),
  )
}

/** max |a − b| / max |b| */
function relErr(a: Float32Array, b: Float32Array): number {
  let d = 0
  let m = 0
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs((a[i] as number) - (b[i] as number)))
    m = Math.max(m, Math.abs(b[i] as number))
  }
  return d / m
}

/** The host sampler's step with guidance per group, as sample.ts applies it. */
function hostStep(
  s: Sampler,
  pred: Float32Array,
  x: Float32Array,
  noise: Float32Array,
  t: number,
  tNext: number,
  guide?: { w: number; groups: number[]; per: number },
) {
  let p = pred
  if (guide) {
    const half = x.length
    p = new Float32Array(half)
    let at = 0
    for (const n of guide.groups) {
      const a = at * guide.per
      const b = (at + n) * guide.per
      p.set(s.guide(pred.subarray(a, b), pred.subarray(half + a, half + b), guide.w), a)
      at += n
    }
  }
  return s.step(p, t, tNext, x, noise)
}

describe('step graphs equal the host samplers', () => {
  const dims = [3, 4, 5, 6]
  const per = 4 * 5 * 6
  const n = 3 * per
  for (const [name, sampler] of Object.entries(SAMPLERS))
    for (const guide of [
      undefined,
      { w: 4, groups: [1, 2] },
      { w: 1.1, groups: [3] },
      { w: 0.3, groups: [2, 1] },
    ])
      it(`${name}, ${guide ? `guidance ${guide.w} over groups [${guide.groups}]` : 'no guidance'}`, async () => {
        const guided = guide !== undefined
        const session = await createSession(
          stepGraph(sampler, { guided, predType: 'float32', modelXType: 'float32' }),
        )
        const times = sampler.timesteps(6)
        for (const i of [0, 2, 5]) {
          const t = times[i] as number
          const tNext = times[i + 1] as number
          const pred = randn(guided ? 2 * n : n, 10 + i, 30)
          const x = randn(n, 20 + i, 50)
          const noise = randn(n, 30 + i)
          const feeds: Record<string, ort.Tensor> = {
            pred: floatTensor(pred, [guided ? 6 : 3, 4, 5, 6]),
            x: floatTensor(x, dims),
            noise: floatTensor(noise, dims),
            coef: floatTensor(sampler.coefficients(t, tNext), [sampler.coefficients(t, tNext).length]),
          }
          if (guide) {
            const g = guidanceFeeds(guide.w, guide.groups)
            feeds.weight = floatTensor(g.weight, [1])
            feeds.from_end = new ort.Tensor('bool', Uint8Array.of(g.fromEnd ? 1 : 0), [1])
            feeds.groups = floatTensor(g.groups.data, g.groups.dims)
          }
          const out = await session.run(feeds)
          const want = hostStep(sampler, pred, x, noise, t, tNext, guide && { ...guide, per })
          expect(relErr(out.x_next?.data as Float32Array, want.x)).toBeLessThan(1e-6)
          expect(relErr(out.output?.data as Float32Array, want.output)).toBeLessThan(1e-6)
          const xModel = out.x_model?.data as Float32Array
          expect(Array.from(xModel.subarray(0, n))).toEqual(Array.from(out.x_next?.data as Float32Array))
          expect(xModel.length).toBe(guided ? 2 * n : n)
        }
      })
})
