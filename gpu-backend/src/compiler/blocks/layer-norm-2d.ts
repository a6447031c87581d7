// LayerNorm2d (Stage B/C, v2): LayerNorm over channels per pixel, no affine, eps 1e-6.
import type { Graph, Value } from '../onnx/graph.ts'
import { layerNormLastAxis, toNCHW, toNHWC } from '../onnx/ops.ts'

export const LN_EPS = 1e-6

// x: [B, H, W, C] -> [B, H, W, C]
export function layerNormChannelsLast(g: Graph, x: Value, c: number): Value {
  return layerNormLastAxis(g, x, c, LN_EPS)
}

// x: [B, C, H, W] -> [B, C, H, W]
export function layerNorm2d(g: Graph, x: Value, c: number): Value {
  return toNCHW(g, layerNormChannelsLast(g, toNHWC(g, x), c))
}
