// GlobalResponseNorm (ConvNeXt-V2), channels-last. The spatial sum of squares overflows fp16, so the
// statistics are always computed in float32.
import type { Graph, Value } from '../onnx/graph.ts'
import { add, div, mul } from '../onnx/ops.ts'
import type { StateDict } from '../weights/state-dict.ts'

// x: [B, H, W, C] -> [B, H, W, C]; keys `${name}.gamma`, `${name}.beta` of shape (1, 1, 1, C)
export function globalResponseNorm(g: Graph, x: Value, sd: StateDict, name: string, c: number): Value {
  const gamma = sd.take(`${name}.gamma`, [1, 1, 1, c])
  const beta = sd.take(`${name}.beta`, [1, 1, 1, c])
  const x32 = g.cast(x, 'float32')
  const sumSq = g.op1('ReduceSumSquare', [x32, g.constI64([1, 2])], { keepdims: 1 })
  const gx = g.op1('Sqrt', [sumSq])
  const mean = g.op1('ReduceMean', [gx, g.constI64([3])], { keepdims: 1 })
  const nx = g.cast(div(g, gx, add(g, mean, g.constF([1e-6], [1], 'float32'))), x.type)
  const gw = g.weight(`${name}.gamma`, [1, 1, 1, c], () => gamma.read())
  const bw = g.weight(`${name}.beta`, [1, 1, 1, c], () => beta.read())
  // gamma·(x·Nx) + beta + x
  return add(g, add(g, mul(g, gw, mul(g, x, nx)), bw), x)
}
