// Würstchen v2 Stage B (DF WuerstchenDiffNeXt, W2 modules.py DiffNeXt): the decoder diffusion from the prior's
// EfficientNet latent to a Paella VQGAN latent. A U-Net whose levels take the effnet latent, resized
// (bicubic, antialiased) to the level and mapped by a 1×1 conv, as an extra skip of every ResBlock.
// Unlike Stable Cascade's StageB the level change is an entry of the level's own block list (the
// downscaler first, the upscaler last), there are no repeats and no skip-size fix.
import { attnBlock } from '../blocks/attn-block.ts'
import { resizeBicubicAA } from '../blocks/bicubic-aa-resize.ts'
import { LN_EPS, layerNorm2d } from '../blocks/layer-norm-2d.ts'
import { type TimeEmbedding, timeEmbedding } from '../blocks/r-embedding.ts'
import { resBlock, type Skip } from '../blocks/res-block.ts'
import { timestepBlock } from '../blocks/timestep-block.ts'
import { Graph, type GraphOptions, type Value } from '../onnx/graph.ts'
import {
  add,
  chunk,
  conv2d,
  convTranspose2d,
  div,
  layerNormLastAxis,
  linear,
  mul,
  shapeOf,
  sigmoid,
  sub,
} from '../onnx/ops.ts'
import type { StateDict } from '../weights/state-dict.ts'
import { countEntries, levelTypes, patchClassifier, patchEmbedding } from './cascade-unet.ts'
import { assertReleasedOrConfigured, type Kwargs, pick } from './config.ts'
import { countLevels } from './stage-c.ts'

export interface WuerstchenDiffNeXtConfig {
  cIn: number
  cOut: number
  cR: number
  patchSize: number
  cCond: number
  cHidden: number[]
  nhead: number[]
  /** Block groups per level; the up path runs the same count per level. */
  blocks: number[]
  levelConfig: string[]
  injectEffnet: boolean[]
  effnetEmbd: number
  clipEmbd: number
}

/** Released variants by level widths (models.md 8.2: warp-ai/wuerstchen decoder). */
const DIFFNEXT_VARIANTS: Record<string, string> = { '320,640,1280,1280': 'warp-ai/wuerstchen' }

/**
 * Sizes from the checkpoint shapes and key indices, `kwargs` first where given; without kwargs the
 * patch size is the released 2 and heads are 64 wide on levels with attention.
 */
export function wuerstchenDiffNeXtConfig(sd: StateDict, kwargs?: Kwargs): WuerstchenDiffNeXtConfig {
  const shape = (k: string) => sd.shapeOf(k) ?? []
  const n = Math.max(countLevels(sd, 'down_blocks'), 1)
  const [c0 = 320, embIn = 16] = shape('embedding.1.weight')
  const widths = Array.from({ length: n }, (_, i) =>
    i === 0 ? c0 : (shape(`down_blocks.${i}.0.1.weight`)[0] ?? c0),
  )
  assertReleasedOrConfigured(
    'Würstchen decoder',
    DIFFNEXT_VARIANTS[`${widths}`],
    kwargs,
    `c_hidden [${widths}]`,
  )
  const cHidden = pick(kwargs, 'c_hidden', widths)
  // Up lists start with the blocks (down lists > 0 with the downscaler), so their keys give the pattern.
  const levelConfig = pick(
    kwargs,
    'level_config',
    cHidden.map((_, i) => levelTypes(sd, `up_blocks.${cHidden.length - 1 - i}`)),
  )
  const blocks = cHidden.map(
    (_, i) =>
      (countEntries(sd, `down_blocks.${i}`) - (i > 0 ? 1 : 0)) /
      Math.max((levelConfig[i] as string).length, 1),
  )
  const [cCond = 1024, clipEmbd = 1024] = shape('clip_mapper.weight')
  const effnetMapper = sd.keys().find((k) => /^effnet_mappers\.\d+\.weight$/.test(k))
  const timeMapper = sd.keys().find((k) => k.endsWith('.mapper.weight'))
  const patch = pick(kwargs, 'patch_size', 2)
  return {
    cIn: pick(kwargs, 'c_in', embIn / (patch * patch)),
    cOut: pick(kwargs, 'c_out', (shape('clf.1.weight')[0] ?? 32) / (2 * patch * patch)),
    cR: pick(kwargs, 'c_r', (timeMapper && shape(timeMapper)[1]) || 64),
    patchSize: patch,
    cCond: pick(kwargs, 'c_cond', cCond),
    cHidden,
    nhead: pick(
      kwargs,
      'nhead',
      cHidden.map((c, i) => ((levelConfig[i] as string).includes('A') ? c / 64 : -1)),
    ),
    blocks: pick(kwargs, 'blocks', blocks),
    levelConfig,
    injectEffnet: pick(
      kwargs,
      'inject_effnet',
      cHidden.map((_, i) => sd.has(`effnet_mappers.${i}.weight`)),
    ),
    effnetEmbd: pick(kwargs, 'effnet_embd', (effnetMapper && shape(effnetMapper)[1]) || 16),
    clipEmbd: pick(kwargs, 'clip_embd', clipEmbd),
  }
}

interface Ctx {
  g: Graph
  sd: StateDict
  cfg: WuerstchenDiffNeXtConfig
  t: TimeEmbedding
  clip: Value
  /** The effnet latent in float32 (the official code resizes `effnet.float()`). */
  effnet: Value
}

/**
 * `effnet_mappers[index]`(effnet resized to the size of `x`) for an injected level, once per level path.
 * The resize itself depends only on the size, which a level's down and up paths share (the model's
 * skip concats require it), so both use one resize.
 */
function effnetCond(ctx: Ctx, x: Value, level: number, index: number): Value | undefined {
  const { g, sd, cfg } = ctx
  if (!cfg.injectEffnet[level]) return undefined
  const resized = g.memo(`effnet_resized.level${level}`, () =>
    g.cast(resizeBicubicAA(g, ctx.effnet, shapeOf(g, x, 2, 4)), g.floatType),
  )
  const key = `effnet_mappers.${index}`
  const w = sd.take(`${key}.weight`, [cfg.cCond, cfg.effnetEmbd, 1, 1])
  return conv2d(g, resized, w, sd.take(`${key}.bias`, [cfg.cCond]), key)
}

/**
 * One level's C/T/A entries `${prefix}.{first + j}`. Every ResBlock takes the effnet condition; the first
 * one of an up level also the down path's output in front of it (channelwise input [h, skip, effnet]).
 */
function levelBlocks(
  ctx: Ctx,
  x: Value,
  prefix: string,
  level: number,
  first: number,
  effnet: Value | undefined,
  levelSkip?: Value,
): Value {
  const { g, sd, cfg } = ctx
  const c = cfg.cHidden[level] as number
  const types = cfg.levelConfig[level] as string
  let h = x
  for (let j = 0; j < (cfg.blocks[level] as number) * types.length; j++) {
    const name = `${prefix}.${first + j}`
    const type = types[j % types.length]
    if (type === 'C') {
      const parts: Skip[] = []
      if (j === 0 && levelSkip) parts.push({ value: levelSkip, channels: c })
      if (effnet) parts.push({ value: effnet, channels: cfg.cCond })
      h = resBlock(g, h, sd, name, c, parts)
    } else if (type === 'T') h = timestepBlock(g, h, ctx.t, sd, name, c, [])
    else if (type === 'A') h = attnBlock(g, h, ctx.clip, sd, name, c, cfg.cCond, cfg.nhead[level] as number)
    else throw new Error(`unknown block type ${type} in level ${level}`)
  }
  return h
}

// Level changes: LayerNorm2d, then Conv (down) or ConvTranspose (up), kernel 2, stride 2, no padding.
function downscaler(ctx: Ctx, x: Value, key: string, cIn: number, cOut: number): Value {
  const { g, sd } = ctx
  const w = sd.take(`${key}.weight`, [cOut, cIn, 2, 2])
  return conv2d(g, layerNorm2d(g, x, cIn), w, sd.take(`${key}.bias`, [cOut]), key, { stride: 2 })
}

function upscaler(ctx: Ctx, x: Value, key: string, cIn: number, cOut: number): Value {
  const { g, sd } = ctx
  const w = sd.take(`${key}.weight`, [cIn, cOut, 2, 2])
  return convTranspose2d(g, layerNorm2d(g, x, cIn), w, sd.take(`${key}.bias`, [cOut]), key, {
    stride: 2,
    pad: 0,
  })
}

/** Down path (_down_encode); returns the level outputs, lowest resolution first. */
function downEncode(ctx: Ctx, x: Value): Value[] {
  const { cHidden } = ctx.cfg
  const outs: Value[] = []
  let h = x
  for (let i = 0; i < cHidden.length; i++) {
    const prefix = `down_blocks.${i}`
    if (i > 0) h = downscaler(ctx, h, `${prefix}.0.1`, cHidden[i - 1] as number, cHidden[i] as number)
    h = levelBlocks(ctx, h, prefix, i, i > 0 ? 1 : 0, effnetCond(ctx, h, i, i))
    outs.unshift(h)
  }
  return outs
}

/** Up path (_up_decode); up list u is level n−1−u, its effnet mapper index n + u. */
function upDecode(ctx: Ctx, levels: Value[]): Value {
  const { cHidden, levelConfig, blocks } = ctx.cfg
  const n = cHidden.length
  let h = levels[0] as Value
  for (let u = 0; u < n; u++) {
    const level = n - 1 - u
    const prefix = `up_blocks.${u}`
    h = levelBlocks(ctx, h, prefix, level, 0, effnetCond(ctx, h, level, n + u), u > 0 ? levels[u] : undefined)
    const last = (blocks[level] as number) * (levelConfig[level] as string).length
    if (level > 0)
      h = upscaler(ctx, h, `${prefix}.${last}.1`, cHidden[level] as number, cHidden[level - 1] as number)
  }
  return h
}

// `clip_mapper` Linear(clip_embd -> c_cond) -> `seq_norm`. [B, S, clip_embd] -> [B, S, c_cond]
function clipTokens(g: Graph, sd: StateDict, cfg: WuerstchenDiffNeXtConfig, clip: Value): Value {
  const w = sd.take('clip_mapper.weight', [cfg.cCond, cfg.clipEmbd])
  const y = linear(g, clip, w, sd.take('clip_mapper.bias', [cfg.cCond]), 'clip_mapper')
  return layerNormLastAxis(g, y, cfg.cCond, LN_EPS)
}

// `clf` output [a, b] after the PixelShuffle: ε = (x − a)/b, b = sigmoid(b)·(1 − 2e-3) + 1e-3, in float32.
// ab: [B, 2·c_out, H, W], x: [B, c_out, H, W] -> [B, c_out, H, W]
function decoderHead(g: Graph, ab: Value, x: Value): Value {
  const eps = 1e-3
  const [a, b] = chunk(g, g.cast(ab, 'float32'), 2, 1) as [Value, Value]
  const f = (v: number) => g.constF([v], [1], 'float32')
  const bs = add(g, mul(g, sigmoid(g, b), f(1 - 2 * eps)), f(eps))
  return g.cast(div(g, sub(g, g.cast(x, 'float32'), a), bs), g.floatType)
}

export function buildWuerstchenDiffNeXt(
  sd: StateDict,
  cfg: WuerstchenDiffNeXtConfig,
  opts: GraphOptions = {},
): Graph {
  const g = new Graph('stage_b', opts)
  const c0 = cfg.cHidden[0] as number
  const x = g.input('x', ['batch', cfg.cIn, 'height', 'width'])
  const r = g.input('r', ['batch'], 'float32')
  const effnet = g.input('effnet', ['batch', cfg.effnetEmbd, 'effnet_height', 'effnet_width'])
  const clip = g.input('clip', ['batch', 'seq', cfg.clipEmbd])

  const ctx: Ctx = {
    g,
    sd,
    cfg,
    t: timeEmbedding(g, r, cfg.cR, []),
    clip: clipTokens(g, sd, cfg, clip),
    effnet: g.cast(effnet, 'float32'),
  }
  const h = patchEmbedding(g, x, sd, cfg.cIn, c0, cfg.patchSize)
  const out = upDecode(ctx, downEncode(ctx, h))
  const ab = patchClassifier(g, out, sd, c0, 2 * cfg.cOut, cfg.patchSize)
  g.output(decoderHead(g, ab, x), 'eps', ['batch', cfg.cOut, 'height', 'width'])
  sd.assertComplete()
  return g
}
