// diffusers DDPMWuerstchenScheduler (scheduling_ddpm_wuerstchen.py, scaler 1, s 0.008) with the Würstchen
// pipelines' guidance (lerp, no rescale) and r = t. Everything in float32, as the reference runs it.
import { add, div, mul, sub } from '../compiler/onnx/ops.ts'
import { emitLerp, lerp } from './cfg.ts'
import { f32, numpyLinspace, PI_F32, torchLinspace } from './float32.ts'
import { emitCoefficients, packCoefficients, type Sampler, type StepResult } from './sampler.ts'

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

/** The per-step scalars: sqrt(1/α), 1 − α, sqrt(1 − ᾱ) and σ (0 at t' = 0: no noise on the last step). */
const COEFFICIENTS = ['k', 'oneMinusAlpha', 'den', 'sigma'] as const

export function ddpmWuerstchen(opts: DdpmWuerstchenOptions = {}): Sampler {
  const coefficients = (t: number, tNext: number) => {
    const ac = alphaCumprod(t)
    const acPrev = alphaCumprod(tNext)
    const alpha = f32(ac / acPrev)
    const oneMinusAlpha = f32(1 - alpha)
    const sigma = f32(Math.sqrt(f32(f32(oneMinusAlpha * f32(1 - acPrev)) / f32(1 - ac))))
    return {
      k: f32(Math.sqrt(f32(1 / alpha))),
      oneMinusAlpha,
      den: f32(Math.sqrt(f32(1 - ac))),
      sigma: f32(tNext) !== 0 ? sigma : 0,
    }
  }
  return {
    timesteps(steps) {
      if (opts.preset && opts.preset.length === steps + 1) return opts.preset.slice()
      return torchLinspace(1, 0, steps + 1)
    },
    modelInput: (t) => f32(t),
    guide: (cond, uncond, scale) => lerp(uncond, cond, scale),
    coefficients: (t, tNext) => packCoefficients(COEFFICIENTS, coefficients(t, tNext)),
    step(pred, t, tNext, x, noise): StepResult {
      // mu = sqrt(1/α)·(x − (1 − α)·ε/sqrt(1 − ᾱ)); x' = mu + sqrt((1 − α)(1 − ᾱ')/(1 − ᾱ))·noise·[t' ≠ 0]
      const { k, oneMinusAlpha, den, sigma } = coefficients(t, tNext)
      const out = new Float32Array(x.length)
      for (let i = 0; i < out.length; i++) {
        const mu = f32(k * f32((x[i] as number) - f32(f32(oneMinusAlpha * (pred[i] as number)) / den)))
        out[i] = sigma ? mu + f32(sigma * (noise[i] as number)) : mu
      }
      return { x: out, output: out }
    },
    emitStep(g, v) {
      const { k, oneMinusAlpha, den, sigma } = emitCoefficients(g, v.coef, COEFFICIENTS)
      const mu = mul(g, k, sub(g, v.x, div(g, mul(g, oneMinusAlpha, v.pred), den)))
      const next = add(g, mu, mul(g, sigma, v.noise))
      return { x: next, output: next }
    },
    emitGuide: (g, cond, uncond, v) => emitLerp(g, uncond, cond, v),
  }
}
