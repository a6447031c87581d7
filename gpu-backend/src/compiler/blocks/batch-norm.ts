// nn.BatchNorm2d in eval mode: (x − running_mean)/sqrt(running_var + eps)·weight + bias per channel. onnxruntime
// folds it into a Conv right before it; elsewhere (after an activation) it stays a per-channel scale and shift.
import type { Graph, Value } from '../onnx/graph.ts'
import type { LazyTensor, StateDict } from '../weights/state-dict.ts'

const constant = (c: number, v: number): LazyTensor => ({
  shape: [c],
  dtype: 'F32',
  read: () => new Float32Array(c).fill(v),
})

/**
 * x: [B, C, H, W] -> [B, C, H, W]. `affine: false` (EfficientNetEncoder's mapper) has no weight or bias keys.
 * The int64 `num_batches_tracked` step counter is a training statistic that eval mode never reads.
 */
export function batchNorm2d(
  g: Graph,
  x: Value,
  sd: StateDict,
  name: string,
  c: number,
  eps: number,
  affine = true,
): Value {
  sd.ignore((k) => k === `${name}.num_batches_tracked`)
  const param = (key: string, fallback: number) => {
    const t = affine || key.startsWith('running') ? sd.take(`${name}.${key}`, [c]) : constant(c, fallback)
    return g.weight(`${name}.${key}`, [c], () => t.read())
  }
  return g.op1(
    'BatchNormalization',
    [x, param('weight', 1), param('bias', 0), param('running_mean', 0), param('running_var', 1)],
    { epsilon: { f: eps } },
  )
}
