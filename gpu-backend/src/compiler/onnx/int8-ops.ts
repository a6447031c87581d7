// The int8 linear layer: activations quantized per call (DynamicQuantizeLinear: per tensor, asymmetric uint8),
// int8 weights with per-output-channel scales, and com.microsoft MatMulIntegerToFloat, which runs MLAS's U8S8
// QGEMM (VNNI) on weights it packs once and writes float32 with the scales and bias applied. Of the int8 MatMul
// forms onnxruntime's CPU provider has (DynamicQuantizeMatMul, MatMulInteger + Cast + Mul, MatMulNBits, QLinear*),
// this one measured fastest at the released shapes (bench/int8-kernels.ts); onnxruntime itself rewrites it into
// DynamicQuantizeMatMul where the quantized activations have one reader. The blockwise form (--int8-block) is
// MatMulNBits at int8 compute: weights and activations scaled per block of K, more accurate and slower.
import { quantizeBlocks, quantizeColumns } from '../weights/int8.ts'
import type { Graph, QuantizedLayout, Value } from './graph.ts'

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
 * (…, N) float32. Per tensor by default; `g.int8Block` quantizes in blocks along K instead (MatMulNBits).
 */
export function int8MatMul(
  g: Graph,
  x: Value,
  name: string,
  [k, n]: [number, number],
  data: () => Float32Array,
  bias?: Value,
): Value {
  const biasInput = bias ? [bias] : []
  const opts = { domain: 'com.microsoft', outType: 'float32', name } as const
  const block = g.int8Block
  if (block) {
    const nb = Math.ceil(k / block)
    const layout: QuantizedLayout = {
      q: 'weight_int8_blocks',
      qDims: [n, nb, block],
      qType: 'uint8',
      scale: 'weight_block_scale',
      scaleDims: [n * nb],
    }
    const w = g.quantizedWeight(name, layout, () => quantizeBlocks(data(), k, n, block))
    // Activations are quantized per row and block inside (accuracy level 4: int8 compute).
    const attrs = { K: k, N: n, bits: 8, block_size: block, accuracy_level: 4 }
    return g.op1('MatMulNBits', [x, w.q, w.scale, '', '', ...biasInput], attrs, opts)
  }
  const layout: QuantizedLayout = {
    q: 'weight_int8',
    qDims: [k, n],
    qType: 'int8',
    scale: 'weight_scale',
    scaleDims: [n],
  }
  const w = g.quantizedWeight(name, layout, () => quantizeColumns(data(), k, n))
  const [xq, xScale, xZero] = dynamicQuantize(g, x)
  return g.op1('MatMulIntegerToFloat', [xq, w.q, xScale, w.scale, xZero, '', ...biasInput], {}, opts)
}
