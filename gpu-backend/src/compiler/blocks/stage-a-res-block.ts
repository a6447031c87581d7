// Stage A ResBlock (SC stage_a.py ResBlock; DF MixingResidualBlock): two gated residual branches,
// x += depthwise(LN(x)·(1+g0) + g1)·g2, then x += MLP(LN(x)·(1+g3) + g4)·g5, with a replicate-padded depthwise
// 3×3 and an MLP of width 4c. The stream stays channels-last, so only the depthwise conv transposes.
// Fused graphs fold the six gammas on the host (LayerNorm scale/bias, each branch's last layer); plain graphs
// apply them as the official forward does.
import type { Graph, Value } from '../onnx/graph.ts'
import {
  add,
  chunk,
  conv2d,
  gelu,
  inChunks,
  layerNormAffine,
  layerNormLastAxis,
  linear,
  mul,
  scalar,
  toNCHW,
  toNHWC,
} from '../onnx/ops.ts'
import { type LazyTensor, type StateDict, scaleRows } from '../weights/state-dict.ts'
import { bordersOf } from './borders.ts'
import { LN_EPS } from './layer-norm-2d.ts'

interface Gammas {
  /** LN(x)·(1 + g[i]) + g[i + 1] */
  norm(x: Value, i: number, name: string): Value
  /** A branch's last-layer weight or bias, times g[i] when folded. */
  fold(t: LazyTensor, i: number): LazyTensor
  /** A branch's output, times g[i] when not folded. */
  gate(v: Value, i: number): Value
}

function foldedGammas(g: Graph, gammas: LazyTensor, c: number): Gammas {
  const at = (i: number) => gammas.read()[i] as number
  const filled = (v: () => number): LazyTensor => ({
    shape: [c],
    dtype: 'F32',
    read: () => new Float32Array(c).fill(v()),
  })
  return {
    norm: (x, i, name) =>
      layerNormAffine(
        g,
        x,
        filled(() => 1 + at(i)),
        filled(() => at(i + 1)),
        name,
        LN_EPS,
      ),
    fold: (t, i) => scaleRows(t, () => at(i)),
    gate: (v) => v,
  }
}

function graphGammas(g: Graph, gammas: LazyTensor, c: number, name: string): Gammas {
  const mods = chunk(
    g,
    g.weight(name, [6], () => gammas.read()),
    6,
    0,
  )
  const at = (i: number) => mods[i] as Value
  return {
    norm: (x, i) =>
      add(g, mul(g, layerNormLastAxis(g, x, c, LN_EPS), add(g, at(i), scalar(g, 1))), at(i + 1)),
    fold: (t) => t,
    gate: (v, i) => mul(g, v, at(i)),
  }
}

// x: [B, H, W, C] -> [B, H, W, C]; ReplicationPad2d(1) then an unpadded depthwise 3×3 (NCHW for ORT's Conv)
function depthwise(
  g: Graph,
  x: Value,
  sd: StateDict,
  name: string,
  c: number,
  mods: Gammas,
  gi: number,
): Value {
  const input = bordersOf(g).convInput(toNCHW(g, x), 1, 'edge')
  const w = mods.fold(sd.take(`${name}.1.weight`, [c, 1, 3, 3]), gi)
  const b = mods.fold(sd.take(`${name}.1.bias`, [c]), gi)
  return mods.gate(toNHWC(g, conv2d(g, input.x, w, b, `${name}.1`, { group: c, pad: input.pad })), gi)
}

// x: [B, H, W, C] -> [B, H, W, C]; Linear c -> 4c, exact GELU, Linear 4c -> c
function channelwise(
  g: Graph,
  x: Value,
  sd: StateDict,
  name: string,
  c: number,
  mods: Gammas,
  gi: number,
): Value {
  const h = linear(
    g,
    x,
    sd.take(`${name}.0.weight`, [4 * c, c]),
    sd.take(`${name}.0.bias`, [4 * c]),
    `${name}.0`,
  )
  const w = mods.fold(sd.take(`${name}.2.weight`, [c, 4 * c]), gi)
  const b = mods.fold(sd.take(`${name}.2.bias`, [c]), gi)
  return mods.gate(linear(g, gelu(g, h), w, b, `${name}.2`), gi)
}

/**
 * The second branch is per position, so fused graphs run it on bands of rows: at 1024² its 4c-wide hidden
 * tensors are 805 MB each at full resolution, an eighth of that per band.
 */
const MLP_ROW_CHUNKS = 8

// x: [B, H, W, C] -> [B, H, W, C]
export function stageAResBlock(g: Graph, x: Value, sd: StateDict, name: string, c: number): Value {
  const gammas = sd.take(`${name}.gammas`, [6])
  const mods = g.fused ? foldedGammas(g, gammas, c) : graphGammas(g, gammas, c, `${name}.gammas`)
  const h = add(g, x, depthwise(g, mods.norm(x, 0, `${name}.norm1`), sd, `${name}.depthwise`, c, mods, 2))
  const mlp = (part: Value) =>
    add(g, part, channelwise(g, mods.norm(part, 3, `${name}.norm2`), sd, `${name}.channelwise`, c, mods, 5))
  return g.fused ? inChunks(g, h, 1, MLP_ROW_CHUNKS, mlp) : mlp(h)
}
