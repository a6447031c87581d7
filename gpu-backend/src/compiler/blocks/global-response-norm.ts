// GlobalResponseNorm (ConvNeXt-V2), channels-last. The spatial sum of squares overflows fp16, so the
// statistics are always computed in float32.
import type { Graph, Value } from '../onnx/graph.ts'
import { add, div, matmul, mul } from '../onnx/ops.ts'
import type { StateDict } from '../weights/state-dict.ts'

// x: [B, H, W, C] -> [B, H, W, C]; keys `${name}.gamma`, `${name}.beta` of shape (1, 1, 1, C)
export function globalResponseNorm(g: Graph, x: Value, sd: StateDict, name: string, c: number): Value {
  const gamma = sd.take(`${name}.gamma`, [1, 1, 1, c])
  const beta = sd.take(`${name}.beta`, [1, 1, 1, c])
  const x32 = g.cast(x, 'float32')
  let sumSq: Value
  if (g.fused) {
    // ORT's strided ReduceSumSquare over H, W is slow; a ones-row MatMul over [B, H·W, C] runs on MLAS.
    const flat = g.op1('Reshape', [x32, g.constI64([0, -1, c])])
    const hw = g.op1('Shape', [flat], { start: 1, end: 2 }, { outType: 'int64' })
    const ones = g.op1('Expand', [
      g.constF([1], [1, 1], 'float32'),
      g.op1('Concat', [g.constI64([1]), hw], { axis: 0 }),
    ])
    sumSq = g.op1('Unsqueeze', [matmul(g, ones, mul(g, flat, flat)), g.constI64([1])])
  } else sumSq = g.op1('ReduceSumSquare', [x32, g.constI64([1, 2])], { keepdims: 1 })
  const gx = g.op1('Sqrt', [sumSq])
  const mean = g.op1('ReduceMean', [gx, g.constI64([3])], { keepdims: 1 })
  const nx = g.cast(div(g, gx, add(g, mean, g.constF([1e-6], [1], 'float32'))), x.type)
  const gw = g.weight(`${name}.gamma`, [1, 1, 1, c], () => gamma.read())
  const bw = g.weight(`${name}.beta`, [1, 1, 1, c], () => beta.read())
  if (!g.fused) return add(g, add(g, mul(g, gw, mul(g, x, nx)), bw), x) // gamma·(x·Nx) + beta + x
  // Same value as x·(gamma·Nx + 1) + beta: the per-channel factor is (B, 1, 1, C), so the full-size tensor
  // is touched twice instead of four times (this is Stage B's widest tensor).
  return add(g, mul(g, x, add(g, mul(g, gw, nx), g.constF([1], [1]))), bw)
}
