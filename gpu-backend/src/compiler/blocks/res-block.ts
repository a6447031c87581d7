// ResBlock (SC common.py; v2 ResBlockStageB; the v2 prior's ResBlock with c_skip = 0):
// depthwise conv -> LayerNorm2d -> [concat skips] -> Linear 4c -> GELU -> GRN -> Linear c -> + x.
// Runs channels-last from the norm on, so the MLP is plain MatMuls on [B, H, W, C].
import type { Graph, Value } from '../onnx/graph.ts'
import { add, conv2d, gelu, linear, linearOverConcat, toNCHW, toNHWC } from '../onnx/ops.ts'
import type { StateDict } from '../weights/state-dict.ts'
import { bordersOf } from './borders.ts'
import { globalResponseNorm } from './global-response-norm.ts'
import { layerNormChannelsLast } from './layer-norm-2d.ts'

export interface Skip {
  value: Value
  channels: number
}

// x: [B, C, H, W] -> [B, C, H, W]; skips: [B, Cs, H, W] each, concatenated after the norm in this order
export function resBlock(
  g: Graph,
  x: Value,
  sd: StateDict,
  name: string,
  c: number,
  skips: Skip[] = [],
): Value {
  const dw = sd.take(`${name}.depthwise.weight`, [c, 1, null, null])
  const k = dw.shape[2] as number
  const input = bordersOf(g).convInput(x, Math.floor(k / 2), 'zeros')
  let h = conv2d(g, input.x, dw, sd.take(`${name}.depthwise.bias`, [c]), `${name}.depthwise`, {
    group: c,
    pad: input.pad,
  })
  const parts = [
    { value: layerNormChannelsLast(g, toNHWC(g, h), c), channels: c },
    ...skips.map((s) => ({ value: toNHWC(g, s.value), channels: s.channels })),
  ]
  const cIn = parts.reduce((n, p) => n + p.channels, 0)
  h = linearOverConcat(
    g,
    parts,
    sd.take(`${name}.channelwise.0.weight`, [4 * c, cIn]),
    sd.take(`${name}.channelwise.0.bias`, [4 * c]),
    `${name}.channelwise.0`,
  )
  h = globalResponseNorm(g, gelu(g, h), sd, `${name}.channelwise.2`, 4 * c)
  h = linear(
    g,
    h,
    sd.take(`${name}.channelwise.4.weight`, [c, 4 * c]),
    sd.take(`${name}.channelwise.4.bias`, [c]),
    `${name}.channelwise.4`,
  )
  return add(g, toNCHW(g, h), x)
}
