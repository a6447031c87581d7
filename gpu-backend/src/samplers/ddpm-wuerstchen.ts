// diffusers DDPMWuerstchenScheduler (scheduling_ddpm_wuerstchen.py, scaler 1, s 0.008) with the Würstchen
// pipelines' guidance (lerp, no rescale) and r = t. Everything in float32, as the reference runs it.
import { lerp } from './cfg.ts'
import { f32, numpyLinspace, PI_F32, torchLinspace } from './float32.ts'
import type { Sampler, StepResult } from './sampler.ts'

/**
 * diffusers' DEFAULT_STAGE_C_TIMESTEPS (pipeline_wuerstchen_prior.py): numpy linspace(1, 2/3, 20) then
 * linspace(2/3, 0, 11)[1:], converted to float32: 30 times, 29 model calls.
 */
export const DEFAULT_STAGE_C_TIMESTEPS: Float32Array = Float32Array.from([
  ...numpyLinspace(1.0, 2 / 3, 20),
  ...numpyLinspace(2 / 3, 0.0, 11).slice(1),
])

export interface DdpmWuerstchenOptions {
  /** A fixed schedule used when `timesteps(steps)` asks for exactly its number of model calls. */
  preset?: Float32Array
}

const S = f32(0.008)
const ONE_PLUS_S = f32(1 + S)
const INIT_ALPHA_CUMPROD = (() => {
  const c = f32(Math.cos(f32(f32(f32(S / ONE_PLUS_S) * PI_F32) * 0.5)))
  return f32(c * c)
})()
const CLAMP_MIN = f32(0.0001)
const CLAMP_MAX = f32(0.9999)

/** ᾱ(t) = clamp(cos²((t + s)/(1 + s)·π/2) / cos²(s/(1 + s)·π/2), 1e-4, 0.9999), op by op in float32. */
export function alphaCumprod(t: number): number {
  const q = f32(f32(f32(f32(f32(t) + S) / ONE_PLUS_S) * PI_F32) * 0.5)
  const c = f32(Math.cos(q))
  const a = f32(f32(c * c) / INIT_ALPHA_CUMPROD)
  return Math.min(Math.max(a, CLAMP_MIN), CLAMP_MAX)
}

export function ddpmWuerstchen(opts: DdpmWuerstchenOptions = {}): Sampler {
  return {
    timesteps(steps) {
      if (opts.preset && opts.preset.length === steps + 1) return opts.preset.slice()
      return torchLinspace(1, 0, steps + 1)
    },
    modelInput: (t) => f32(t),
    guide: (cond, uncond, scale) => lerp(uncond, cond, scale),
    step(pred, t, tNext, x, noise): StepResult {
      // mu = sqrt(1/α)·(x − (1 − α)·ε/sqrt(1 − ᾱ)); x' = mu + sqrt((1 − α)(1 − ᾱ')/(1 − ᾱ))·noise·[t' ≠ 0]
      const ac = alphaCumprod(t)
      const acPrev = alphaCumprod(tNext)
      const alpha = f32(ac / acPrev)
      const k = f32(Math.sqrt(f32(1 / alpha)))
      const oneMinusAlpha = f32(1 - alpha)
      const den = f32(Math.sqrt(f32(1 - ac)))
      const sigma = f32(Math.sqrt(f32(f32(oneMinusAlpha * f32(1 - acPrev)) / f32(1 - ac))))
      const addNoise = f32(tNext) !== 0
      const out = new Float32Array(x.length)
      for (let i = 0; i < out.length; i++) {
        const mu = f32(k * f32((x[i] as number) - f32(f32(oneMinusAlpha * (pred[i] as number)) / den)))
        out[i] = addNoise ? mu + f32(sigma * (noise[i] as number)) : mu
      }
      return { x: out, output: out }
    },
  }
}
