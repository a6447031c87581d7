// The official Stable Cascade sampler (StableCascade gdf/): CosineSchedule(clamp [1e-4, 0.9999]) with logSNR
// shift, VPScaler, EpsilonTarget, CosineTNoiseCond as the model's r, CFG rescale (cfg_rho), and DDPMSampler
// (the DDIM step with eta = 1). The stage output is x0̂ of the last step, as the notebooks keep it.
// Every op is rounded to float32 as torch computes it (the golden README: the schedule is float32).
import { add, div, mul, sub } from '../compiler/onnx/ops.ts'
import { emitLerp, emitRescale, lerp, rescaleGuided } from './cfg.ts'
import { f32, PI_F32, torchLinspace } from './float32.ts'
import { emitCoefficients, packCoefficients, type Sampler, type StepResult } from './sampler.ts'

export interface GdfOptions {
  /** logSNR shift (official: 2 for Stage C, 1 for Stage B). */
  shift: number
  /** CFG rescale strength; 0 disables it (official: 0.7). */
  cfgRho: number
}

const S = f32(0.008)
const ONE_PLUS_S = f32(1 + S)
const MIN_VAR = (() => {
  const c = f32(Math.cos(f32(f32(f32(S / ONE_PLUS_S) * PI_F32) * 0.5)))
  return f32(c * c)
})()
const HALF_PI = f32(Math.PI * 0.5)

/** torch's float32 sigmoid: 1/(1 + exp(−x)), each op rounded. */
const sigmoid = (x: number) => f32(1 / f32(1 + f32(Math.exp(-x))))

/** CosineSchedule.schedule: logSNR(t) without shift or limits. */
function cosineLogSnr(t: number): number {
  const q = f32(f32(f32(f32(S + f32(t)) / ONE_PLUS_S) * PI_F32) * 0.5)
  const c = Math.min(Math.max(f32(Math.cos(q)), 0), 1)
  const v = Math.min(Math.max(f32(f32(c * c) / MIN_VAR), f32(0.0001)), f32(0.9999))
  return f32(Math.log(f32(v / f32(1 - v))))
}

/** BaseSchedule's limits: logSNR at t = 1 and t = 0 with shift 1. */
const LOGSNR_MIN = cosineLogSnr(1)
const LOGSNR_MAX = cosineLogSnr(0)

/** BaseSchedule.__call__: the shifted logSNR, clamped to the unshifted limits. */
export function logSnr(t: number, shift: number): number {
  let l = cosineLogSnr(Math.min(Math.max(t, 0), 1))
  if (shift !== 1) l = f32(l + f32(2 * Math.log(1 / shift)))
  return Math.min(Math.max(l, LOGSNR_MIN), LOGSNR_MAX)
}

/** VPScaler: a = sqrt(sigmoid(logSNR)), b = sqrt(1 − sigmoid(logSNR)). */
export function vpScale(logSnrValue: number): { a: number; b: number } {
  const a2 = sigmoid(logSnrValue)
  return { a: f32(Math.sqrt(a2)), b: f32(Math.sqrt(f32(1 - a2))) }
}

/** CosineTNoiseCond: the t of the unshifted cosine schedule with this logSNR, clamped to [0, 1]. */
export function cosineTNoiseCond(logSnrValue: number): number {
  const v = Math.min(Math.max(sigmoid(logSnrValue), 0), 1)
  const acos = f32(Math.acos(f32(Math.sqrt(f32(v * MIN_VAR)))))
  const t = f32(f32(f32(acos / HALF_PI) * ONE_PLUS_S) - S)
  return Math.min(Math.max(t, 0), 1)
}

/**
 * GDF.diffuse: x_t = a·x0 + b·ε with the VP scales of the schedule at t (float32, as torch). The official img2img
 * noises its start with shift 1 and then samples with the stage's shift from t_start = t.
 */
export function gdfDiffuse(x0: Float32Array, epsilon: Float32Array, t: number, shift: number): Float32Array {
  const { a, b } = vpScale(logSnr(t, shift))
  return x0.map((v, i) => f32(f32(v * a) + f32((epsilon[i] as number) * b)))
}

/** The per-step scalars of the DDIM step (eta 1) from t to t'. */
const COEFFICIENTS = ['a', 'b', 'aNext', 'epsScale', 'sigma'] as const

export function gdfDdpm(opts: GdfOptions): Sampler {
  const scale = (t: number) => vpScale(logSnr(t, opts.shift))
  const coefficients = (t: number, tNext: number) => {
    const { a, b } = scale(t)
    const { a: aNext, b: bNext } = scale(tNext)
    const b2Next = f32(bNext * bNext)
    const sigma = f32(
      f32(Math.sqrt(f32(b2Next / f32(b * b)))) *
        f32(Math.sqrt(f32(1 - f32(f32(a * a) / f32(aNext * aNext))))),
    )
    return { a, b, aNext, epsScale: f32(Math.sqrt(f32(b2Next - f32(sigma * sigma)))), sigma }
  }
  return {
    timesteps: (steps) => torchLinspace(1, 0, steps + 1),
    modelInput: (t) => cosineTNoiseCond(logSnr(t, opts.shift)),
    guide(cond, uncond, w) {
      const guided = lerp(uncond, cond, w)
      return opts.cfgRho > 0 ? rescaleGuided(guided, cond, opts.cfgRho) : guided
    },
    coefficients: (t, tNext) => packCoefficients(COEFFICIENTS, coefficients(t, tNext)),
    step(pred, t, tNext, x, noise): StepResult {
      // EpsilonTarget: x0 = (x − b·ε)/a. DDIM with eta 1: σ = sqrt(b'²/b²)·sqrt(1 − a²/a'²),
      // x' = a'·x0 + sqrt(b'² − σ²)·ε + σ·noise.
      const { a, b, aNext, epsScale, sigma } = coefficients(t, tNext)
      const x0 = new Float32Array(x.length)
      const next = new Float32Array(x.length)
      for (let i = 0; i < x.length; i++) {
        const eps = pred[i] as number
        const x0i = f32(f32((x[i] as number) - f32(eps * b)) / a)
        x0[i] = x0i
        next[i] = f32(f32(aNext * x0i) + f32(epsScale * eps)) + f32(sigma * (noise[i] as number))
      }
      return { x: next, output: x0 }
    },
    emitStep(g, v) {
      const { a, b, aNext, epsScale, sigma } = emitCoefficients(g, v.coef, COEFFICIENTS)
      const x0 = div(g, sub(g, v.x, mul(g, v.pred, b)), a)
      const next = add(g, add(g, mul(g, aNext, x0), mul(g, epsScale, v.pred)), mul(g, sigma, v.noise))
      return { x: next, output: x0 }
    },
    emitGuide(g, cond, uncond, v) {
      const guided = emitLerp(g, uncond, cond, v)
      return opts.cfgRho > 0 ? emitRescale(g, guided, cond, opts.cfgRho, v.groups) : guided
    },
  }
}
