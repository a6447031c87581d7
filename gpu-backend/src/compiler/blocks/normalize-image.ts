// Per-channel image normalization inside a graph (torchvision's Normalize, CLIP's image processor): image graphs
// take RGB in [0, 1] and apply their encoder's statistics themselves.
import type { Graph, Value } from '../onnx/graph.ts'

export interface ImageStats {
  mean: number[]
  std: number[]
}

/** (x − mean)/std per channel, in float32 as torchvision computes it. x: [B, C, H, W] -> [B, C, H, W] */
export function normalizeImage(g: Graph, x: Value, stats: ImageStats): Value {
  const c = stats.mean.length
  const mean = g.constF(stats.mean, [1, c, 1, 1], 'float32')
  const std = g.constF(stats.std, [1, c, 1, 1], 'float32')
  return g.cast(g.op1('Div', [g.op1('Sub', [g.cast(x, 'float32'), mean]), std]), x.type)
}
