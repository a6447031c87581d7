// Multi-head attention core shared by AttnBlock (image tokens) and the CLIP text encoder.
// `attention: 'mha'` emits com.microsoft MultiHeadAttention (flash kernels on CUDA); the default is
// MatMul -> Softmax -> MatMul, which ORT's CPU provider runs 2x faster than its MHA kernel (bench/).
// Scores and softmax always run in float32.
import type { Graph, Value } from '../onnx/graph.ts'
import { matmul, reshape, transpose } from '../onnx/ops.ts'

// q: [B, S, C], k, v: [B, L, C] -> [B, S, C]; `mask`: additive float32 [B or 1, 1, S or 1, L], plain path only
export function multiHeadAttention(
  g: Graph,
  q: Value,
  k: Value,
  v: Value,
  c: number,
  nhead: number,
  mask?: Value,
): Value {
  const d = c / nhead
  const outType = q.type
  const [q32, k32, v32] = [q, k, v].map((t) => g.cast(t, 'float32')) as [Value, Value, Value]
  if (g.attention === 'mha' && !mask) {
    const o = g.op1(
      'MultiHeadAttention',
      [q32, k32, v32],
      { num_heads: nhead, scale: { f: 1 / Math.sqrt(d) } },
      {
        domain: 'com.microsoft',
      },
    )
    return g.cast(o, outType)
  }
  const heads = (t: Value) => transpose(g, reshape(g, t, [0, -1, nhead, d]), [0, 2, 1, 3])
  const qh = g.op1('Mul', [heads(q32), g.constF([1 / Math.sqrt(d)], [1], 'float32')])
  const kt = transpose(g, reshape(g, k32, [0, -1, nhead, d]), [0, 2, 3, 1])
  let scores = matmul(g, qh, kt)
  if (mask) scores = g.op1('Add', [scores, mask])
  const attn = g.op1('Softmax', [scores], { axis: -1 })
  const o = transpose(g, matmul(g, attn, heads(v32)), [0, 2, 1, 3])
  return g.cast(reshape(g, o, [0, -1, c]), outType)
}
