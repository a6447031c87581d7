// The level structure Stable Cascade's StageC and StageB share (_down_encode / _up_decode): per level a
// list of ResBlock (C), TimestepBlock (T) and AttnBlock (A) entries, optional repeats joined by 1×1
// "repeat mapper" convs, and skips from the down path into the first ResBlock of each up level.
import { attnBlock } from '../blocks/attn-block.ts'
import { layerNorm2d } from '../blocks/layer-norm-2d.ts'
import type { TimeEmbedding } from '../blocks/r-embedding.ts'
import { resBlock } from '../blocks/res-block.ts'
import { timestepBlock } from '../blocks/timestep-block.ts'
import type { Graph, Value } from '../onnx/graph.ts'
import { conv2d, pixelShuffle, pixelUnshuffle, resizeBilinearLike } from '../onnx/ops.ts'
import type { StateDict } from '../weights/state-dict.ts'

export interface CascadeLevels {
  cHidden: number[]
  nhead: number[]
  /** [down per level 0..n-1, up listed from the lowest level (U = 0) to level 0]. */
  blocks: [number[], number[]]
  blockRepeat: [number[], number[]]
  levelConfig: string[]
  tConds: string[]
  cCond: number
}

export interface LevelHooks {
  /** Entering down level i > 0 from level i - 1. */
  downscaler(x: Value, i: number): Value
  /** Leaving up level i > 0 (up index u) towards level i - 1. */
  upscaler(x: Value, i: number, u: number): Value
  /** The input of every ResBlock call, in call order (down path, then up path): Stage C's ControlNet inputs. */
  resBlockInput?(x: Value, c: number): Value
}

interface Ctx {
  g: Graph
  sd: StateDict
  spec: CascadeLevels
  t: TimeEmbedding
  cond: Value
  hooks: LevelHooks
}

function runBlocks(ctx: Ctx, x: Value, prefix: string, level: number, count: number, skip?: Value): Value {
  const { g, sd, spec } = ctx
  const c = spec.cHidden[level] as number
  const types = spec.levelConfig[level] as string
  let h = x
  for (let k = 0; k < count; k++)
    for (let p = 0; p < types.length; p++) {
      const name = `${prefix}.${k * types.length + p}`
      const type = types[p]
      if (type === 'C') {
        const s = k === 0 && p === 0 && skip ? skip : undefined
        // The official code resizes x to the skip size when they differ (latents not divisible by the stride);
        // a same-size align_corners resize is an exact copy, so it is applied unconditionally.
        if (s) h = resizeBilinearLike(g, h, s)
        if (ctx.hooks.resBlockInput) h = ctx.hooks.resBlockInput(h, c)
        // The skip is the down path's output of this same level, so it has c channels too.
        h = resBlock(g, h, sd, name, c, s ? [{ value: s, channels: c }] : [])
      } else if (type === 'T') h = timestepBlock(g, h, ctx.t, sd, name, c, spec.tConds)
      else if (type === 'A')
        h = attnBlock(g, h, ctx.cond, sd, name, c, spec.cCond, spec.nhead[level] as number)
      else throw new Error(`unknown block type ${type} in level ${level}`)
    }
  return h
}

function repeatMapper(ctx: Ctx, x: Value, name: string, c: number): Value {
  return conv2d(ctx.g, x, ctx.sd.take(`${name}.weight`, [c, c, 1, 1]), ctx.sd.take(`${name}.bias`, [c]), name)
}

/** Down path; returns the level outputs, lowest resolution first (as the official level_outputs). */
export function downEncode(
  g: Graph,
  x: Value,
  t: TimeEmbedding,
  cond: Value,
  sd: StateDict,
  spec: CascadeLevels,
  hooks: LevelHooks,
): Value[] {
  const ctx: Ctx = { g, sd, spec, t, cond, hooks }
  const outs: Value[] = []
  let h = x
  for (let i = 0; i < spec.cHidden.length; i++) {
    if (i > 0) h = hooks.downscaler(h, i)
    const repeats = spec.blockRepeat[0][i] as number
    for (let r = 0; r < repeats; r++) {
      h = runBlocks(ctx, h, `down_blocks.${i}`, i, spec.blocks[0][i] as number)
      if (r < repeats - 1)
        h = repeatMapper(ctx, h, `down_repeat_mappers.${i}.${r}`, spec.cHidden[i] as number)
    }
    outs.unshift(h)
  }
  return outs
}

/** Up path from the level outputs; returns the input of `clf`. */
export function upDecode(
  g: Graph,
  levels: Value[],
  t: TimeEmbedding,
  cond: Value,
  sd: StateDict,
  spec: CascadeLevels,
  hooks: LevelHooks,
): Value {
  const ctx: Ctx = { g, sd, spec, t, cond, hooks }
  const n = spec.cHidden.length
  let h = levels[0] as Value
  for (let u = 0; u < n; u++) {
    const level = n - 1 - u
    const repeats = spec.blockRepeat[1][u] as number
    const skip = u > 0 ? levels[u] : undefined
    for (let r = 0; r < repeats; r++) {
      h = runBlocks(ctx, h, `up_blocks.${u}`, level, spec.blocks[1][u] as number, skip)
      if (r < repeats - 1)
        h = repeatMapper(ctx, h, `up_repeat_mappers.${u}.${r}`, spec.cHidden[level] as number)
    }
    if (level > 0) h = hooks.upscaler(h, level, u)
  }
  return h
}

/** Number of block entries stored under `prefix.{j}.` (for reading block counts off a checkpoint). */
export function countEntries(sd: StateDict, prefix: string): number {
  let max = -1
  for (const k of sd.keys())
    if (k.startsWith(`${prefix}.`)) {
      const j = Number(k.slice(prefix.length + 1).split('.')[0])
      if (Number.isInteger(j)) max = Math.max(max, j)
    }
  return max + 1
}

/** A level's block pattern ('CT', 'CTA', ...), read off the keys of its first entries. */
export function levelTypes(sd: StateDict, prefix: string): string {
  const typeOf = (j: number) =>
    sd.has(`${prefix}.${j}.depthwise.weight`)
      ? 'C'
      : sd.has(`${prefix}.${j}.mapper.weight`)
        ? 'T'
        : sd.has(`${prefix}.${j}.kv_mapper.1.weight`)
          ? 'A'
          : undefined
  let types = ''
  for (let j = 0; ; j++) {
    const t = typeOf(j)
    if (!t || (j > 0 && t === types[0])) return types
    types += t
  }
}

// `embedding`: PixelUnshuffle(patch) -> Conv 1×1 -> LayerNorm2d. x: [B, c_in, H, W] -> [B, c0, H/p, W/p]
export function patchEmbedding(
  g: Graph,
  x: Value,
  sd: StateDict,
  cIn: number,
  c0: number,
  patch: number,
): Value {
  const w = sd.take('embedding.1.weight', [c0, cIn * patch * patch, 1, 1])
  const h = conv2d(g, pixelUnshuffle(g, x, patch), w, sd.take('embedding.1.bias', [c0]), 'embedding.1')
  return layerNorm2d(g, h, c0)
}

// `clf`: LayerNorm2d -> Conv 1×1 -> PixelShuffle(patch). x: [B, c0, h, w] -> [B, c_out, h·p, w·p]
export function patchClassifier(
  g: Graph,
  x: Value,
  sd: StateDict,
  c0: number,
  cOut: number,
  patch: number,
): Value {
  const p2 = patch * patch
  const w = sd.take('clf.1.weight', [cOut * p2, c0, 1, 1])
  const h = conv2d(g, layerNorm2d(g, x, c0), w, sd.take('clf.1.bias', [cOut * p2]), 'clf.1')
  return pixelShuffle(g, h, patch)
}
