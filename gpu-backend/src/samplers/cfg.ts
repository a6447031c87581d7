// Classifier-free guidance helpers: torch.lerp and the official Stable Cascade guidance rescale, on the host and
// as graph nodes for the on-device loop.
import type { Graph, Value } from '../compiler/onnx/graph.ts'
import { add, div, matmul, mul, reshape, sub, transpose } from '../compiler/onnx/ops.ts'
import { f32 } from './float32.ts'
import type { GuideValues } from './sampler.ts'

/** torch's CPU lerp switches formulas at |w| = 0.5: from the end point above it, from the start below. */
const lerpFromEnd = (w: number) => Math.abs(w) >= 0.5

/**
 * torch.lerp(start, end, w) elementwise: start + w·(end − start) for |w| < 0.5, else end − (end − start)·(1 − w)
 * (torch's CPU formula). Evaluated in float64 and rounded once, which reproduces torch's fused multiply-add.
 */
export function lerp(start: Float32Array, end: Float32Array, weight: number): Float32Array {
  const w = f32(weight)
  const fromEnd = lerpFromEnd(w)
  const out = new Float32Array(start.length)
  for (let i = 0; i < out.length; i++) {
    const s = start[i] as number
    const e = end[i] as number
    out[i] = fromEnd ? e - (e - s) * (1 - w) : s + w * (e - s)
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

/** The guidance inputs of a step graph for scale `w` over `groups` (sizes of consecutive image groups). */
export function guidanceFeeds(
  w: number,
  groups: readonly number[],
): { weight: Float32Array; fromEnd: boolean; groups: { data: Float32Array; dims: number[] } } {
  const wf = f32(w)
  const fromEnd = lerpFromEnd(wf)
  const batch = groups.reduce((a, b) => a + b, 0)
  const m = new Float32Array(groups.length * batch)
  let at = 0
  groups.forEach((n, gi) => {
    m.fill(1, gi * batch + at, gi * batch + at + n)
    at += n
  })
  return {
    weight: Float32Array.of(fromEnd ? f32(wf - 1) : wf),
    fromEnd,
    groups: { data: m, dims: [groups.length, batch] },
  }
}

/** `lerp` as graph nodes: from the end point, end + (end − start)·(w − 1); else start + (end − start)·w. */
export function emitLerp(g: Graph, start: Value, end: Value, v: GuideValues): Value {
  const base = g.op1('Where', [v.fromEnd, end, start])
  return add(g, base, mul(g, sub(g, end, start), v.weight))
}

/**
 * `rescaleGuided` as graph nodes for every group at once: per-image sums, then group sums through the (G, B)
 * indicator matrix, so groups of any sizes share one graph. Reductions run in float32 (WebGPU has no float64).
 */
export function emitRescale(g: Graph, guided: Value, cond: Value, rho: number, groups: Value): Value {
  const shape = g.op1('Shape', [guided], {}, { outType: 'int64' })
  const rows = (v: Value) => reshape(g, v, [0, -1])
  const rowSum = (v: Value) => g.op1('ReduceSum', [v, g.constI64([1])], { keepdims: 1 })
  const groupsT = transpose(g, groups, [1, 0])
  const flat = rows(guided)
  const perImage = g.cast(g.op1('Shape', [flat], { start: 1, end: 2 }, { outType: 'int64' }), 'float32')
  // Elements per group: images in it × elements per image.
  const n = mul(g, rowSum(groups), perImage)
  /** Each image's group std, (B, 1), of a flattened (B, N) tensor. */
  const stdPerImage = (flat: Value) => {
    const mean = matmul(g, groupsT, div(g, matmul(g, groups, rowSum(flat)), n))
    const dev = sub(g, flat, mean)
    const variance = div(
      g,
      matmul(g, groups, rowSum(mul(g, dev, dev))),
      sub(g, n, g.constF([1], [1], 'float32')),
    )
    return matmul(g, groupsT, g.op1('Sqrt', [variance]))
  }
  const stdPos = stdPerImage(rows(cond))
  const stdCfg = add(g, stdPerImage(flat), g.constF([f32(1e-9)], [1], 'float32'))
  const scaled = mul(g, g.constF([f32(rho)], [1], 'float32'), div(g, mul(g, flat, stdPos), stdCfg))
  const out = add(g, scaled, mul(g, flat, g.constF([f32(1 - rho)], [1], 'float32')))
  return g.op1('Reshape', [out, shape])
}
