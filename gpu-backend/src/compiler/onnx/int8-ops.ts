// The int8 linear layer: activations quantized per call (DynamicQuantizeLinear: per tensor, asymmetric uint8),
// int8 weights with per-output-channel scales, and com.microsoft MatMulIntegerToFloat, which runs MLAS's U8S8
// QGEMM (VNNI) on weights it packs once and writes float32 with the scales and bias applied. Of the int8 MatMul
// forms onnxruntime's CPU provider has (DynamicQuantizeMatMul, MatMulInteger + Cast + Mul, MatMulNBits, QLinear*),
// this one measured fastest at the released shapes (bench/int8-kernels.ts).
import { quantizeBlocks } from '../weights/int8.ts'
import type { Graph, Value } from './graph.ts'

/** The uint8 activations, scale and zero point of `x`, computed once per tensor however many layers read it. */
function dynamicQuantize(g: Graph, x: Value): [Value, Value, Value] {
  return g.memo(`dynamic-quantize:${x.name}`, () => {
    const [q, scale, zero] = g.op('DynamicQuantizeLinear', [x], {}, 3, { name: `${x.name}/quantized` }) as [
      Value,
      Value,
      Value,
    ]
    return [
      { ...q, type: 'uint8' },
      { ...scale, type: 'float32' },
      { ...zero, type: 'uint8' },
    ]
  })
}

/**
 * x (…, K) float32 times the (K, N) weight `name` produced by `data` (float32, quantized here), plus `bias`:
 * (…, N) float32.
 */
export function int8MatMul(
  g: Graph,
  x: Value,
  name: string,
  dims: [number, number],
  data: () => Float32Array,
  bias?: Value,
): Value {
  if (g.int8Block) return blockwise(g, x, name, dims, data, g.int8Block, bias)
  const w = g.int8Weight(name, dims, data)
  const [xq, xScale, xZero] = dynamicQuantize(g, x)
  return g.op1(
    'MatMulIntegerToFloat',
    [xq, w.q, xScale, w.scale, xZero, '', ...(bias ? [bias] : [])],
    {},
    {
      domain: 'com.microsoft',
      outType: 'float32',
      name,
    },
  )
}

function blockwise(
  g: Graph,
  x: Value,
  name: string,
  [k, n]: [number, number],
  data: () => Float32Array,
  block: number,
  bias?: Value,
): Value {
  const nb = Math.ceil(k / block)
  let pending: ReturnType<typeof quantizeBlocks> | undefined
  let reads = 0
  const part = <K extends 'q' | 'scale'>(key: K) => {
    pending ??= quantizeBlocks(data(), k, n, block)
    const out = pending[key]
    if (++reads % 2 === 0) pending = undefined
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength)
  }
  const q = g.initializer(`${name}.weight_blocks`, [n, nb, block], 'uint8', () => part('q'))
  const scale = g.initializer(`${name}.weight_block_scale`, [n * nb], 'float32', () => part('scale'))
  return g.op1(
    'MatMulNBits',
    [x, q, scale, '', '', ...(bias ? [bias] : [])],
    { K: k, N: n, bits: 8, block_size: block, accuracy_level: 4 },
    { domain: 'com.microsoft', outType: 'float32', name },
  )
}
