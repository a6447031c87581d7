// The Keys cubic convolution kernel with a = −0.5 (aten's aa_filter for bicubic, cubic_convolution1/2), on the
// host and as graph nodes: Würstchen v2's effnet resize weighs its taps with it (bicubic-aa-resize.ts) and so does
// the periodic resize of its tile graphs (periodic-resize.ts).
import type { Graph, Value } from '../onnx/graph.ts'
import { mul, sub } from '../onnx/ops.ts'

const A = -0.5

export function keysCubic(t: number): number {
  const x = Math.abs(t)
  if (x < 1) return ((A + 2) * x - (A + 3)) * x * x + 1
  if (x < 2) return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A
  return 0
}

/** K(x) elementwise for x = |t| (float32), in the Horner forms of aten's cubic_convolution1 and 2. */
export function keysCubicInGraph(g: Graph, x: Value): Value {
  const f = (v: number) => g.constF([v], [], 'float32')
  const lt = (a: Value, b: Value) => g.op1('Less', [a, b], {}, { outType: 'bool' })
  const where = (c: Value, a: Value, b: Value) => g.op1('Where', [c, a, b], {}, { outType: a.type })
  const one = f(1)
  const x2 = mul(g, x, x)
  const near = g.op1('Add', [mul(g, sub(g, mul(g, f(A + 2), x), f(A + 3)), x2), one])
  const far = sub(
    g,
    mul(g, g.op1('Add', [mul(g, sub(g, mul(g, f(A), x), f(5 * A)), x), f(8 * A)]), x),
    f(4 * A),
  )
  return where(lt(x, one), near, where(lt(x, f(2)), far, f(0)))
}
