// AttnBlock (SC common.py, v2): x + MHA(q = LN2d(x) tokens, kv = [those tokens ; kv_mapper(cond)]).
// kv_mapper = SiLU -> Linear(c_cond -> c). nn.MultiheadAttention packs q, k, v in in_proj_*.
import type { Graph, Value } from '../onnx/graph.ts'
import { add, chunk, concat, linear, reshape, shapeOf, silu, toNCHW, toNHWC } from '../onnx/ops.ts'
import type { LazyTensor, StateDict } from '../weights/state-dict.ts'
import { multiHeadAttention } from './attention.ts'
import { layerNormChannelsLast } from './layer-norm-2d.ts'

/** Rows [from, to) of a row-major (rows, cols) tensor, as a lazy tensor. */
function rows(t: LazyTensor, from: number, to: number): LazyTensor {
  const cols = t.shape.length > 1 ? (t.shape[1] as number) : 1
  return {
    shape: t.shape.length > 1 ? [to - from, cols] : [to - from],
    dtype: t.dtype,
    read: () => t.read().slice(from * cols, to * cols),
  }
}

// x: [B, C, H, W] -> [B, C, H, W]; cond: [B, L, c_cond] (the raw condition tokens)
export function attnBlock(
  g: Graph,
  x: Value,
  cond: Value,
  sd: StateDict,
  name: string,
  c: number,
  cCond: number,
  nhead: number,
): Value {
  const inW = sd.take(`${name}.attention.attn.in_proj_weight`, [3 * c, c])
  const inB = sd.take(`${name}.attention.attn.in_proj_bias`, [3 * c])
  const kvm = linear(
    g,
    g.memo(`silu:${cond.name}`, () => silu(g, cond)),
    sd.take(`${name}.kv_mapper.1.weight`, [c, cCond]),
    sd.take(`${name}.kv_mapper.1.bias`, [c]),
    `${name}.kv_mapper.1`,
  )
  const xn = layerNormChannelsLast(g, toNHWC(g, x), c)
  const tokens = reshape(g, xn, [0, -1, c])
  let q: Value
  let k: Value
  let v: Value
  if (g.fused) {
    // The packed projection, once for the image tokens and once for the condition tokens (whose queries are
    // dropped: computing them is cheaper than storing k and v rows of the weight a second time).
    const inProj = (t: Value) =>
      chunk(g, linear(g, t, inW, inB, `${name}.attention.attn.in_proj`), 3, 2) as [Value, Value, Value]
    const [qt, kt, vt] = inProj(tokens)
    const [, kc, vc] = inProj(kvm)
    q = qt
    k = concat(g, [kt, kc], 1)
    v = concat(g, [vt, vc], 1)
  } else {
    const kv = concat(g, [tokens, kvm], 1)
    const proj = (i: number, t: Value, n: string) =>
      linear(
        g,
        t,
        rows(inW, i * c, (i + 1) * c),
        rows(inB, i * c, (i + 1) * c),
        `${name}.attention.attn.${n}`,
      )
    q = proj(0, tokens, 'q_proj')
    k = proj(1, kv, 'k_proj')
    v = proj(2, kv, 'v_proj')
  }
  const o = multiHeadAttention(g, q, k, v, c, nhead)
  const out = linear(
    g,
    o,
    sd.take(`${name}.attention.attn.out_proj.weight`, [c, c]),
    sd.take(`${name}.attention.attn.out_proj.bias`, [c]),
    `${name}.attention.attn.out_proj`,
  )
  const back = g.op1('Reshape', [out, shapeOf(g, xn)])
  return add(g, x, toNCHW(g, back))
}
