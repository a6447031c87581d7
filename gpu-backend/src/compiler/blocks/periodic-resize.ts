// Resize weights for tile graphs (borders.ts), as (out × in) matrices applied per image axis by two MatMuls, so
// that each axis can wrap or not: the periodic counterparts of the official resizes, and Stable Cascade's bilinear
// align_corners resize as a matrix for a tile graph's axes that do not wrap.
//
// A periodic resize treats its input as one period of a signal that repeats. Output i samples at
// u_i = (i + 0.5)·in/out − 0.5 (half-pixel centres), and taps wrap around instead of being clamped. A shift by s
// input cells is then a shift by s·out/in output cells whenever that is whole. The image's centre still maps to the
// input's centre, as align_corners maps it. The kernels stay the official ones: bilinear without antialias
// (F.interpolate bilinear has none) and Keys cubic with antialias (Würstchen v2), each row normalised.
import type { Graph, Value } from '../onnx/graph.ts'
import { add, div, matmul, mul, sub, transpose, unsqueeze } from '../onnx/ops.ts'
import type { ImageAxis } from './borders.ts'
import { keysCubicInGraph } from './keys-cubic.ts'

export type ResizeKernel = 'bilinear' | 'bicubic-aa'

/**
 * Images j + k·in of every tap: |j + 0.5 − centre| < in, and a kernel reaches at most 2·max(in/out, 1) ≤ 2·in
 * cells (Keys with antialias; bilinear reaches 1), so k in −2..2 holds every tap of every size.
 */
const IMAGES = [-2, -1, 0, 1, 2]

const f = (g: Graph, v: number) => g.constF([v], [], 'float32')

/** The periodic weights, float32 [out, in], from int64 scalar sizes. */
export function periodicWeightsInGraph(g: Graph, inSize: Value, outSize: Value, kernel: ResizeKernel): Value {
  const inF = g.cast(inSize, 'float32')
  const outF = g.cast(outSize, 'float32')
  const one = f(g, 1)
  const half = f(g, 0.5)
  const scale = div(g, inF, outF)
  // d = (j + 0.5 + k·in) − centre_i with centre_i = (i + 0.5)·scale: [images, out, in]
  const centre = unsqueeze(g, mul(g, add(g, g.op1('Range', [f(g, 0), outF, one]), half), scale), [0, 2])
  const taps = unsqueeze(g, add(g, g.op1('Range', [f(g, 0), inF, one]), half), [0, 1])
  const images = mul(g, g.constF(IMAGES, [IMAGES.length, 1, 1], 'float32'), inF)
  const d = g.op1('Abs', [sub(g, add(g, taps, images), centre)])
  const w =
    kernel === 'bilinear'
      ? g.op1('Relu', [sub(g, one, d)])
      : keysCubicInGraph(g, div(g, d, g.op1('Max', [scale, one])))
  const summed = g.op1('ReduceSum', [w, g.constI64([0])], { keepdims: 0 })
  return div(g, summed, g.op1('ReduceSum', [summed, g.constI64([1])], { keepdims: 1 }))
}

/**
 * F.interpolate(bilinear, align_corners=True) as weights, float32 [out, in]: u_i = i·(in − 1)/(out − 1) (0 for
 * one output), w = max(0, 1 − |j − u_i|).
 */
export function alignCornersBilinearWeightsInGraph(g: Graph, inSize: Value, outSize: Value): Value {
  const inF = g.cast(inSize, 'float32')
  const outF = g.cast(outSize, 'float32')
  const one = f(g, 1)
  const scale = div(g, sub(g, inF, one), g.op1('Max', [sub(g, outF, one), one]))
  const u = unsqueeze(g, mul(g, g.op1('Range', [f(g, 0), outF, one]), scale), [1])
  const j = unsqueeze(g, g.op1('Range', [f(g, 0), inF, one]), [0])
  return g.op1('Relu', [sub(g, one, g.op1('Abs', [sub(g, j, u)]))])
}

export const dim = (g: Graph, shape: Value, i: number) =>
  g.op1('Gather', [shape, g.constI64([i], [])], { axis: 0 }, { outType: 'int64' })

/**
 * x: [B, C, h, w] float32 -> [B, C, H, W]; size: int64 [2] = (H, W). `weights` gives an axis' [out, in] matrix
 * from its sizes; width first, then height, like aten.
 */
export function resizeSeparable(
  g: Graph,
  x: Value,
  size: Value,
  weights: (axis: ImageAxis, inSize: Value, outSize: Value) => Value,
): Value {
  const inShape = g.op1('Shape', [x], {}, { outType: 'int64' })
  const ww = weights(1, dim(g, inShape, 3), dim(g, size, 1))
  const wh = weights(0, dim(g, inShape, 2), dim(g, size, 0))
  return matmul(g, wh, matmul(g, x, transpose(g, ww, [1, 0])))
}
