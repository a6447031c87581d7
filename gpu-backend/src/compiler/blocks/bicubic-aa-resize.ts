// F.interpolate(mode='bicubic', antialias=True, align_corners=True): the Würstchen v2 decoder's effnet
// resize. PyTorch's antialiased kernel (aten UpSampleKernel.cpp, _compute_weights_aa) is separable: per axis
// an (out × in) matrix of Keys-cubic (a = −0.5) weights, normalised per row. ONNX Resize cannot express it
// (its align_corners samples at i·scale and its cubic uses a = −0.75), so the graph applies the two
// matrices as MatMuls. The matrices are built in the graph from the runtime sizes, so the effnet and the
// latent keep dynamic sizes; they are tiny (levels × effnet size) next to the model.
import type { Graph, Value } from '../onnx/graph.ts'
import { div, mul, sub, unsqueeze } from '../onnx/ops.ts'
import { bordersOf } from './borders.ts'
import { keysCubic, keysCubicInGraph } from './keys-cubic.ts'
import { periodicWeightsInGraph, resizeSeparable } from './periodic-resize.ts'

/** align_corners scale: (in − 1)/(out − 1), 0 for a single output (aten area_pixel_compute_scale). */
const alignCornersScale = (inSize: number, outSize: number) =>
  outSize > 1 ? (inSize - 1) / (outSize - 1) : 0

/**
 * Host-side (out × in) weights of one axis, row-major, following aten's loop: taps j in
 * [int(centre − support + 0.5), int(centre + support + 0.5)) clipped to [0, in), weight
 * K((j − centre + 0.5)/max(scale, 1)), normalised to sum 1.
 */
export function bicubicAAWeights(inSize: number, outSize: number): Float64Array {
  const scale = alignCornersScale(inSize, outSize)
  const support = 2 * Math.max(scale, 1)
  const invScale = 1 / Math.max(scale, 1)
  const w = new Float64Array(outSize * inSize)
  for (let i = 0; i < outSize; i++) {
    const centre = scale * (i + 0.5)
    const lo = Math.max(Math.trunc(centre - support + 0.5), 0)
    const hi = Math.min(Math.trunc(centre + support + 0.5), inSize)
    let total = 0
    for (let j = lo; j < hi; j++) {
      const v = keysCubic((j - centre + 0.5) * invScale)
      w[i * inSize + j] = v
      total += v
    }
    if (total !== 0) for (let j = lo; j < hi; j++) w[i * inSize + j] = (w[i * inSize + j] as number) / total
  }
  return w
}

/**
 * The same matrix in the graph, float32 [out, in], from int64 scalar sizes. Every input index is a tap:
 * outside aten's window |t| ≥ 2, where the kernel is 0, so the window needs no mask.
 */
export function bicubicAAWeightsInGraph(g: Graph, inSize: Value, outSize: Value): Value {
  const f = (v: number) => g.constF([v], [], 'float32')
  const lt = (a: Value, b: Value) => g.op1('Less', [a, b], {}, { outType: 'bool' })
  const where = (c: Value, a: Value, b: Value) => g.op1('Where', [c, a, b], {}, { outType: a.type })
  const inF = g.cast(inSize, 'float32')
  const outF = g.cast(outSize, 'float32')
  const one = f(1)
  const scale = where(lt(one, outF), div(g, sub(g, inF, one), g.op1('Max', [sub(g, outF, one), one])), f(0))
  const invScale = div(g, one, g.op1('Max', [scale, one]))
  const half = f(0.5)
  // centre_i = scale·(i + 0.5): [out, 1]; taps j: [1, in]
  const i = g.op1('Range', [f(0), outF, one])
  const centre = unsqueeze(g, mul(g, scale, g.op1('Add', [i, half])), [1])
  const j = unsqueeze(g, g.op1('Range', [f(0), inF, one]), [0])
  const t = mul(g, g.op1('Add', [sub(g, j, centre), half]), invScale)
  const w = keysCubicInGraph(g, g.op1('Abs', [t]))
  return div(g, w, g.op1('ReduceSum', [w, g.constI64([1])], { keepdims: 1 }))
}

// x: [B, C, h, w] float32 -> [B, C, H, W]; size: int64 [2] = (H, W). Periodic where a tile graph's axis wraps.
export function resizeBicubicAA(g: Graph, x: Value, size: Value): Value {
  const borders = bordersOf(g)
  return resizeSeparable(g, x, size, (axis, inSize, outSize) =>
    borders.resizeWeights(
      axis,
      () => bicubicAAWeightsInGraph(g, inSize, outSize),
      () => periodicWeightsInGraph(g, inSize, outSize, 'bicubic-aa'),
    ),
  )
}
