// torchvision's efficientnet_v2_s(...).features (torchvision/models/efficientnet.py), the backbone of Stable
// Cascade's EfficientNetEncoder and of its effnet-bottleneck ControlNets (keys `backbone.*`): a stride-2 stem,
// stages of FusedMBConv / MBConv blocks, a 1×1 head; every conv is Conv2dNormActivation (conv without bias,
// BatchNorm eps 1e-3, SiLU unless it projects). Widths and layer counts are read off the checkpoint; strides,
// kernels and block kinds are EfficientNetV2-S's unless a config gives them (models/effnet-layout.ts).
import type { Graph, Value } from '../onnx/graph.ts'
import { add, conv2d, mul, sigmoid, silu } from '../onnx/ops.ts'
import type { StateDict } from '../weights/state-dict.ts'
import { batchNorm2d } from './batch-norm.ts'

const BN_EPS = 1e-3

/** One stage, as torchvision's MBConvConfig / FusedMBConvConfig (and the golden configs' inverted_residual_setting). */
export interface EffnetStage {
  block: 'F' | 'M'
  expand_ratio: number
  kernel: number
  stride: number
  in: number
  out: number
  layers: number
}

export interface EffnetLayout {
  /** Input channels of the stem conv (3, or a ControlNet hint's). */
  cIn: number
  /** Stem padding: 1 as torchvision builds it; 0 where a ControlNet replaced the stem conv (c_in ≠ 3). */
  stemPad: number
  stages: EffnetStage[]
  lastChannel: number
}

/** torchvision's _make_divisible(v, 8): the expanded width of a block. */
function makeDivisible(v: number, divisor = 8): number {
  let n = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor)
  if (n < 0.9 * v) n += divisor
  return n
}

interface ConvNormAct {
  cIn: number
  cOut: number
  kernel: number
  stride?: number
  pad?: number
  groups?: number
  act: boolean
}

// Conv2dNormActivation: `${name}.0` conv (no bias), `${name}.1` BatchNorm, SiLU. [B, cIn, H, W] -> [B, cOut, H', W']
function convNormAct(g: Graph, x: Value, sd: StateDict, name: string, o: ConvNormAct): Value {
  const groups = o.groups ?? 1
  const w = sd.take(`${name}.0.weight`, [o.cOut, o.cIn / groups, o.kernel, o.kernel])
  const h = conv2d(g, x, w, undefined, `${name}.0`, {
    stride: o.stride ?? 1,
    pad: o.pad ?? Math.floor((o.kernel - 1) / 2),
    group: groups,
  })
  const y = batchNorm2d(g, h, sd, `${name}.1`, o.cOut, BN_EPS)
  return o.act ? silu(g, y) : y
}

// SqueezeExcitation: x · σ(fc2(SiLU(fc1(avgpool(x))))). [B, c, H, W] -> [B, c, H, W]
function squeezeExcitation(
  g: Graph,
  x: Value,
  sd: StateDict,
  name: string,
  c: number,
  squeeze: number,
): Value {
  const fc = (v: Value, key: string, cIn: number, cOut: number) =>
    conv2d(
      g,
      v,
      sd.take(`${name}.${key}.weight`, [cOut, cIn, 1, 1]),
      sd.take(`${name}.${key}.bias`, [cOut]),
      `${name}.${key}`,
    )
  const s = fc(silu(g, fc(g.op1('GlobalAveragePool', [x]), 'fc1', c, squeeze)), 'fc2', squeeze, c)
  return mul(g, x, sigmoid(g, s))
}

// FusedMBConv or MBConv with torchvision's residual (stride 1, in = out; stochastic depth is eval's identity).
function block(
  g: Graph,
  x: Value,
  sd: StateDict,
  name: string,
  s: EffnetStage,
  cIn: number,
  stride: number,
): Value {
  const p = `${name}.block`
  const expanded = makeDivisible(cIn * s.expand_ratio)
  const k = s.kernel
  let h: Value
  if (s.block === 'F')
    h =
      expanded === cIn
        ? convNormAct(g, x, sd, `${p}.0`, { cIn, cOut: s.out, kernel: k, stride, act: true })
        : convNormAct(
            g,
            convNormAct(g, x, sd, `${p}.0`, { cIn, cOut: expanded, kernel: k, stride, act: true }),
            sd,
            `${p}.1`,
            { cIn: expanded, cOut: s.out, kernel: 1, act: false },
          )
  else {
    let j = 0
    h = x
    if (expanded !== cIn)
      h = convNormAct(g, h, sd, `${p}.${j++}`, { cIn, cOut: expanded, kernel: 1, act: true })
    const dw = { cIn: expanded, cOut: expanded, kernel: k, stride, groups: expanded, act: true }
    h = convNormAct(g, h, sd, `${p}.${j++}`, dw)
    h = squeezeExcitation(g, h, sd, `${p}.${j++}`, expanded, Math.max(1, Math.floor(cIn / 4)))
    h = convNormAct(g, h, sd, `${p}.${j}`, { cIn: expanded, cOut: s.out, kernel: 1, act: false })
  }
  return stride === 1 && cIn === s.out ? add(g, h, x) : h
}

/** features(x): [B, cIn, H, W] -> [B, lastChannel, H/32, W/32] (with the released strides). */
export function efficientNetV2Features(
  g: Graph,
  x: Value,
  sd: StateDict,
  prefix: string,
  l: EffnetLayout,
): Value {
  const first = l.stages[0]?.in ?? 0
  let h = convNormAct(g, x, sd, `${prefix}.0`, {
    cIn: l.cIn,
    cOut: first,
    kernel: 3,
    stride: 2,
    pad: l.stemPad,
    act: true,
  })
  l.stages.forEach((s, i) => {
    for (let j = 0; j < s.layers; j++)
      h = block(g, h, sd, `${prefix}.${i + 1}.${j}`, s, j === 0 ? s.in : s.out, j === 0 ? s.stride : 1)
  })
  const lastIn = l.stages.at(-1)?.out ?? first
  return convNormAct(g, h, sd, `${prefix}.${l.stages.length + 1}`, {
    cIn: lastIn,
    cOut: l.lastChannel,
    kernel: 1,
    act: true,
  })
}
