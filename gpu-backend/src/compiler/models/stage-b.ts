// Stable Cascade Stage B (SC modules/stage_b.py StageB): the decoder diffusion from Stage C's EfficientNet
// latent to a Stage A latent. A U-Net over four levels with stride-2 level changes and repeated up levels.
import { bordersOf } from '../blocks/borders.ts'
import { LN_EPS, layerNorm2d } from '../blocks/layer-norm-2d.ts'
import {
  alignCornersBilinearWeightsInGraph,
  periodicWeightsInGraph,
  resizeSeparable,
} from '../blocks/periodic-resize.ts'
import { timeEmbedding } from '../blocks/r-embedding.ts'
import { Graph, type Value } from '../onnx/graph.ts'
import {
  add,
  concat,
  conv2d,
  convTranspose2d,
  gelu,
  layerNormLastAxis,
  linear,
  reshape,
  resizeBilinearLike,
  shapeOf,
} from '../onnx/ops.ts'
import type { StateDict } from '../weights/state-dict.ts'
import {
  type CascadeLevels,
  countEntries,
  downEncode,
  levelTypes,
  patchClassifier,
  patchEmbedding,
  upDecode,
} from './cascade-unet.ts'
import { assertReleasedOrConfigured, type Kwargs, pick } from './config.ts'
import { countLevels, mapperConds, type StageOptions } from './stage-c.ts'

export interface StageBConfig extends CascadeLevels {
  cIn: number
  cOut: number
  cR: number
  patchSize: number
  cClip: number
  cClipSeq: number
  cEffnet: number
  cPixels: number
}

/** Released variants by the width of down level 1 (models.md 4.4: DF single-file detection). */
const STAGE_B_VARIANTS: Record<number, string> = { 640: 'big', 576: 'lite' }

/** The official default `pixels`: zeros of (B, c_pixels, 8, 8). */
const PIXELS_SIZE = 8

/**
 * Sizes from the checkpoint where its shapes determine them (widths, block, repeat and level patterns,
 * conditions), else from `kwargs`; released variants need none: their heads are 64 wide.
 */
export function stageBConfig(sd: StateDict, kwargs?: Kwargs): StageBConfig {
  const shape = (k: string) => sd.shapeOf(k) ?? []
  const levels = Math.max(countLevels(sd, 'down_blocks'), 1)
  const [c0 = 320, embIn = 16] = shape('embedding.1.weight')
  const widths = Array.from({ length: levels }, (_, i) =>
    i === 0 ? c0 : (shape(`down_downscalers.${i}.1.weight`)[0] ?? c0),
  )
  const cHidden = pick(kwargs, 'c_hidden', widths)
  const levelConfig = pick(
    kwargs,
    'level_config',
    cHidden.map((_, i) => levelTypes(sd, `down_blocks.${i}`)),
  )
  const n = cHidden.length
  const perLevel = (count: number, level: number) =>
    count / Math.max((levelConfig[level] as string).length, 1)
  const down = cHidden.map((_, i) => perLevel(countEntries(sd, `down_blocks.${i}`), i))
  const up = cHidden.map((_, u) => perLevel(countEntries(sd, `up_blocks.${u}`), n - 1 - u))
  const repeats = (prefix: string) => cHidden.map((_, i) => countEntries(sd, `${prefix}.${i}`) + 1)
  const [clipOut = 5120, cClip = 1280] = shape('clip_mapper.weight')
  const kvMapper = sd.keys().find((k) => k.endsWith('.kv_mapper.1.weight'))
  const cCond = pick(kwargs, 'c_cond', kvMapper ? (shape(kvMapper)[1] as number) : clipOut / 4)
  const timeMapper = sd.keys().find((k) => k.endsWith('.mapper.weight'))
  const patch = pick(kwargs, 'patch_size', 2)
  const variantWidth = shape('down_blocks.1.0.channelwise.0.weight')[1]
  assertReleasedOrConfigured(
    'Stage B',
    STAGE_B_VARIANTS[variantWidth ?? 0],
    kwargs,
    `down level 1 width ${variantWidth}`,
  )
  return {
    cIn: pick(kwargs, 'c_in', embIn / (patch * patch)),
    cOut: pick(kwargs, 'c_out', (shape('clf.1.weight')[0] ?? 16) / (patch * patch)),
    cR: pick(kwargs, 'c_r', (timeMapper && shape(timeMapper)[1]) || 64),
    patchSize: patch,
    cCond,
    cHidden,
    nhead: pick(
      kwargs,
      'nhead',
      cHidden.map((c, i) => ((levelConfig[i] as string).includes('A') ? c / 64 : -1)),
    ),
    blocks: pick(kwargs, 'blocks', [down, up]),
    blockRepeat: pick(kwargs, 'block_repeat', [repeats('down_repeat_mappers'), repeats('up_repeat_mappers')]),
    levelConfig,
    tConds: pick(kwargs, 't_conds', mapperConds(sd)),
    cClip: pick(kwargs, 'c_clip', cClip),
    cClipSeq: pick(kwargs, 'c_clip_seq', clipOut / cCond),
    cEffnet: pick(kwargs, 'c_effnet', shape('effnet_mapper.0.weight')[1] ?? 16),
    cPixels: pick(kwargs, 'c_pixels', shape('pixels_mapper.0.weight')[1] ?? 3),
  }
}

/** `clip_mapper` Linear(c_clip -> c_cond·c_clip_seq) -> c_clip_seq tokens per input token -> `clip_norm`. */
function clipTokens(g: Graph, sd: StateDict, cfg: StageBConfig, clip: Value): Value {
  const { cCond, cClipSeq } = cfg
  const w = sd.take('clip_mapper.weight', [cCond * cClipSeq, cfg.cClip])
  const y = linear(g, clip, w, sd.take('clip_mapper.bias', [cCond * cClipSeq]), 'clip_mapper')
  return layerNormLastAxis(g, reshape(g, y, [0, -1, cCond]), cCond, LN_EPS)
}

// `effnet_mapper` / `pixels_mapper`: Conv 1×1 (c_in -> 4·c0) -> GELU -> Conv 1×1 (-> c0) -> LayerNorm2d.
// x: [B, c_in, h, w] -> [B, c0, h, w]
function condMapper(g: Graph, x: Value, sd: StateDict, name: string, cIn: number, c0: number): Value {
  const w0 = sd.take(`${name}.0.weight`, [4 * c0, cIn, 1, 1])
  let h = conv2d(g, x, w0, sd.take(`${name}.0.bias`, [4 * c0]), `${name}.0`)
  const w2 = sd.take(`${name}.2.weight`, [c0, 4 * c0, 1, 1])
  h = conv2d(g, gelu(g, h), w2, sd.take(`${name}.2.bias`, [c0]), `${name}.2`)
  return layerNorm2d(g, h, c0)
}

/**
 * F.interpolate(bilinear, align_corners=True) in float32, as the official code casts with `.float()`; periodic
 * where a tile graph's axis wraps.
 */
function resizeF32(g: Graph, x: Value, like: Value): Value {
  const x32 = g.cast(x, 'float32')
  const borders = bordersOf(g)
  const resized = borders.tiled
    ? resizeSeparable(g, x32, shapeOf(g, like, 2, 4), (axis, inSize, outSize) =>
        borders.resizeWeights(
          axis,
          () => alignCornersBilinearWeightsInGraph(g, inSize, outSize),
          () => periodicWeightsInGraph(g, inSize, outSize, 'bilinear'),
        ),
      )
    : resizeBilinearLike(g, x32, like)
  return g.cast(resized, g.floatType)
}

/**
 * pixels_mapper of all-zero pixels: every pixel sees only the biases, so the output is one (c0) vector
 * per channel, the same at every position and after any resize. Computed on the host in float64.
 */
function zeroPixelsVector(sd: StateDict, cPixels: number, c0: number): () => Float32Array {
  const name = 'pixels_mapper'
  sd.take(`${name}.0.weight`, [4 * c0, cPixels, 1, 1]) // multiplies zeros: checked, not needed
  const b0 = sd.take(`${name}.0.bias`, [4 * c0])
  const w2 = sd.take(`${name}.2.weight`, [c0, 4 * c0, 1, 1])
  const b2 = sd.take(`${name}.2.bias`, [c0])
  return () => {
    const hidden = Array.from(b0.read(), (v) => 0.5 * v * (1 + erf(v / Math.SQRT2)))
    const w = w2.read()
    const y = Array.from(b2.read(), (b, j) =>
      hidden.reduce((s, h, k) => s + (w[j * 4 * c0 + k] as number) * h, b),
    )
    const mean = y.reduce((s, v) => s + v, 0) / c0
    const variance = y.reduce((s, v) => s + (v - mean) ** 2, 0) / c0
    return Float32Array.from(y, (v) => (v - mean) / Math.sqrt(variance + LN_EPS))
  }
}

/** erf in float64 (JavaScript has none): Taylor series near 0, continued fraction of erfc in the tails. */
function erf(x: number): number {
  const a = Math.abs(x)
  if (a >= 6) return Math.sign(x)
  if (a < 2.5) {
    let term = a
    let sum = a
    for (let n = 1; Math.abs(term) > 1e-17 * sum; n++) {
      term *= (-a * a) / n
      sum += term / (2 * n + 1)
    }
    return (Math.sign(x) * 2 * sum) / Math.sqrt(Math.PI)
  }
  let f = a
  for (let n = 200; n >= 1; n--) f = a + n / 2 / f
  return Math.sign(x) * (1 - Math.exp(-a * a) / Math.sqrt(Math.PI) / f)
}

// The pixels term added to the embedding: [B, c0, H, W], or [1, c0, 1, 1] when folded
function pixelsTerm(
  g: Graph,
  sd: StateDict,
  cfg: StageBConfig,
  pixels: Value | undefined,
  x: Value,
  like: Value,
): Value {
  const c0 = cfg.cHidden[0] as number
  if (!pixels && g.fused)
    return g.weight('pixels_mapper.zero_pixels', [1, c0, 1, 1], zeroPixelsVector(sd, cfg.cPixels, c0))
  // The official default: zeros of (B, c_pixels, 8, 8).
  const zeros = () => {
    const dims = concat(g, [shapeOf(g, x, 0, 1), g.constI64([cfg.cPixels, PIXELS_SIZE, PIXELS_SIZE])], 0)
    return g.cast(g.op1('ConstantOfShape', [dims], {}, { outType: 'float32' }), g.floatType)
  }
  return resizeF32(g, condMapper(g, pixels ?? zeros(), sd, 'pixels_mapper', cfg.cPixels, c0), like)
}

export function buildStageB(sd: StateDict, cfg: StageBConfig, opts: StageOptions = {}): Graph {
  const g = new Graph('stage_b', opts)
  const { cHidden, patchSize } = cfg
  const c0 = cHidden[0] as number
  const x = g.input('x', ['batch', cfg.cIn, 'height', 'width'])
  const r = g.input('r', ['batch'], 'float32')
  const effnet = g.input('effnet', ['batch', cfg.cEffnet, 'effnet_height', 'effnet_width'])
  const clip = g.input('clip', ['batch', 1, cfg.cClip])
  const conds = cfg.tConds.map((n) => (opts.extraInputs ? g.input(n, ['batch'], 'float32') : undefined))
  const pixels = opts.extraInputs
    ? g.input('pixels', ['batch', cfg.cPixels, 'pixels_height', 'pixels_width'])
    : undefined

  const t = timeEmbedding(g, r, cfg.cR, conds)
  const cond = clipTokens(g, sd, cfg, clip)
  let h = patchEmbedding(g, x, sd, cfg.cIn, c0, patchSize)
  // The effnet latent is resized to the embedded size before its mapper, the pixels after theirs.
  h = add(g, h, condMapper(g, resizeF32(g, effnet, h), sd, 'effnet_mapper', cfg.cEffnet, c0))
  h = add(g, h, pixelsTerm(g, sd, cfg, pixels, x, h))

  // Level changes: LayerNorm2d, then a stride-2 Conv down or ConvTranspose up (k 2, no padding).
  const stride2 = (v: Value, key: string, cIn: number, cOut: number, up: boolean) => {
    const w = sd.take(`${key}.weight`, up ? [cIn, cOut, 2, 2] : [cOut, cIn, 2, 2])
    const b = sd.take(`${key}.bias`, [cOut])
    const vn = layerNorm2d(g, v, cIn)
    return up
      ? convTranspose2d(g, vn, w, b, key, { stride: 2, pad: 0 })
      : conv2d(g, vn, w, b, key, { stride: 2 })
  }
  const hooks = {
    downscaler: (v: Value, i: number) =>
      stride2(v, `down_downscalers.${i}.1`, cHidden[i - 1] as number, cHidden[i] as number, false),
    upscaler: (v: Value, i: number, u: number) =>
      stride2(v, `up_upscalers.${u}.1`, cHidden[i] as number, cHidden[i - 1] as number, true),
  }
  const levels = downEncode(g, h, t, cond, sd, cfg, hooks)
  h = upDecode(g, levels, t, cond, sd, cfg, hooks)
  g.output(patchClassifier(g, h, sd, c0, cfg.cOut, patchSize), 'eps', ['batch', cfg.cOut, 'height', 'width'])
  sd.assertComplete()
  return g
}
