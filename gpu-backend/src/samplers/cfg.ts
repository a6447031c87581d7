// Classifier-free guidance helpers: torch.lerp and the official Stable Cascade guidance rescale.
import { f32 } from './float32.ts'

/**
 * torch.lerp(start, end, w) elementwise: start + w·(end − start) for |w| < 0.5, else end − (end − start)·(1 − w)
 * (torch's CPU formula). Evaluated in float64 and rounded once, which reproduces torch's fused multiply-add.
 */
export function lerp(start: Float32Array, end: Float32Array, weight: number): Float32Array {
  const w = f32(weight)
  const out = new Float32Array(start.length)
  for (let i = 0; i < out.length; i++) {
    const s = start[i] as number
    const e = end[i] as number
    out[i] = Math.abs(w) < 0.5 ? s + w * (e - s) : e - (e - s) * (1 - w)
  }
  return out
}

/**
 * torch's float32 Tensor.std() over all elements: unbiased (N − 1), the mean rounded to float32 (it is a
 * float32 `mean()`), the squared deviations summed in float64.
 */
export function std(x: Float32Array): number {
  let sum = 0
  for (const v of x) sum += v
  const mean = f32(sum / x.length)
  let ss = 0
  for (const v of x) ss += (v - mean) * (v - mean)
  return f32(Math.sqrt(ss / (x.length - 1)))
}

/**
 * Stable Cascade's CFG rescale (gdf.sample, cfg_rho): rho·guided·std(cond)/(std(guided) + 1e-9) + (1 − rho)·guided,
 * both stds over the whole tensor of the group, every op rounded to float32 as torch does.
 */
export function rescaleGuided(guided: Float32Array, cond: Float32Array, rho: number): Float32Array {
  const stdPos = std(cond)
  const stdCfg = f32(std(guided) + f32(1e-9))
  const r = f32(rho)
  const keep = f32(1 - rho)
  const out = new Float32Array(guided.length)
  for (let i = 0; i < out.length; i++) {
    const g = guided[i] as number
    out[i] = f32(r * f32(f32(g * stdPos) / stdCfg)) + f32(g * keep)
  }
  return out
}
