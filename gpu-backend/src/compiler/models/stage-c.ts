// Stable Cascade Stage C (SC modules/stage_c.py StageC): text-conditional diffusion on the
// 16-channel EfficientNet latent. Every block runs at the latent resolution.
import { layerNorm2d } from '../blocks/layer-norm-2d.ts'
import { timeEmbedding } from '../blocks/r-embedding.ts'
import { Graph, type GraphOptions, type Value } from '../onnx/graph.ts'
import { add, concat, conv2d, layerNormLastAxis, linear, resizeBilinearLike } from '../onnx/ops.ts'
import type { StateDict } from '../weights/state-dict.ts'
import {
  type CascadeLevels,
  countEntries,
  downEncode,
  type LevelHooks,
  patchClassifier,
  patchEmbedding,
  upDecode,
} from './cascade-unet.ts'
import { assertReleasedOrConfigured, type Kwargs, pick } from './config.ts'

export interface StageCConfig extends CascadeLevels {
  cIn: number
  cOut: number
  cR: number
  patchSize: number
  cClipText: number
  cClipTextPooled: number
  cClipImg: number
  cClipSeq: number
}

/** Released variants by c_cond (models.md 3.4: DF single-file detection). */
const STAGE_C_VARIANTS: Record<number, string> = { 2048: 'big', 1536: 'lite' }

/** Sizes from the checkpoint where its shapes determine them, else from `kwargs`; heads default to 64 wide. */
export function stageCConfig(sd: StateDict, kwargs?: Kwargs): StageCConfig {
  const shape = (k: string) => sd.shapeOf(k) ?? []
  const [cCond = 2048, cClipText = 1280] = shape('clip_txt_mapper.weight')
  const [pooledOut = 4 * cCond, cClipTextPooled = 1280] = shape('clip_txt_pooled_mapper.weight')
  const [, cClipImg = 768] = shape('clip_img_mapper.weight')
  const [c0 = cCond, embIn = 16] = shape('embedding.1.weight')
  const levels = Math.max(countLevels(sd, 'down_blocks'), 1)
  const cHidden = pick(
    kwargs,
    'c_hidden',
    Array.from({ length: levels }, () => c0),
  )
  const levelConfig = pick(
    kwargs,
    'level_config',
    cHidden.map(() => 'CTA'),
  )
  const down = cHidden.map((_, i) => countEntries(sd, `down_blocks.${i}`) / (levelConfig[i] as string).length)
  const up = cHidden.map(
    (_, u) => countEntries(sd, `up_blocks.${u}`) / (levelConfig[cHidden.length - 1 - u] as string).length,
  )
  const tConds = pick(kwargs, 't_conds', mapperConds(sd))
  const [, cR = 64] = shape('down_blocks.0.1.mapper.weight')
  const patch = pick(kwargs, 'patch_size', 1)
  assertReleasedOrConfigured('Stage C', STAGE_C_VARIANTS[cCond], kwargs, `c_cond ${cCond}`)
  return {
    cIn: pick(kwargs, 'c_in', embIn / (patch * patch)),
    cOut: pick(kwargs, 'c_out', (shape('clf.1.weight')[0] ?? 16) / (patch * patch)),
    cR: pick(kwargs, 'c_r', cR),
    patchSize: patch,
    cCond: pick(kwargs, 'c_cond', cCond),
    cHidden,
    nhead: pick(
      kwargs,
      'nhead',
      cHidden.map((c) => c / 64),
    ),
    blocks: pick(kwargs, 'blocks', [down, up]),
    blockRepeat: pick(kwargs, 'block_repeat', [cHidden.map(() => 1), cHidden.map(() => 1)]),
    levelConfig,
    tConds,
    cClipText: pick(kwargs, 'c_clip_text', cClipText),
    cClipTextPooled: pick(kwargs, 'c_clip_text_pooled', cClipTextPooled),
    cClipImg: pick(kwargs, 'c_clip_img', cClipImg),
    cClipSeq: pick(kwargs, 'c_clip_seq', pooledOut / cCond),
  }
}

export function countLevels(sd: StateDict, prefix: string): number {
  let n = 0
  while (sd.keys().some((k) => k.startsWith(`${prefix}.${n}.`))) n++
  return n
}

/** Extra time conditions, in checkpoint order of the first TimestepBlock's `mapper_<name>` keys. */
export function mapperConds(sd: StateDict): string[] {
  const first = sd.keys().find((k) => /\.mapper\.weight$/.test(k))
  if (!first) return []
  const prefix = first.slice(0, -'mapper.weight'.length)
  return sd
    .keys()
    .filter((k) => k.startsWith(`${prefix}mapper_`) && k.endsWith('.weight'))
    .map((k) => k.slice(prefix.length + 'mapper_'.length, -'.weight'.length))
}

export interface StageOptions extends GraphOptions {
  /** Expose the optional conditions (sca/crp, Stage B pixels) as inputs instead of folding their defaults. */
  extraInputs?: boolean
  /** Stage C only: ResBlock calls (counted down then up) that take a ControlNet input `cnet_<k>`. */
  controlnetBlocks?: number[]
}

/** Conditioning tokens: [clip_txt_mapper(text), clip_txt_pooled_mapper(pooled), clip_img_mapper(img)] -> LayerNorm. */
function clipTokens(
  g: Graph,
  sd: StateDict,
  cfg: StageCConfig,
  text: Value,
  pooled: Value,
  img: Value,
): Value {
  const { cCond, cClipSeq } = cfg
  const map = (x: Value, key: string, cIn: number, seq: number) => {
    const y = linear(
      g,
      x,
      sd.take(`${key}.weight`, [cCond * seq, cIn]),
      sd.take(`${key}.bias`, [cCond * seq]),
      key,
    )
    return seq === 1 ? y : g.op1('Reshape', [y, g.constI64([0, -1, cCond])])
  }
  const tokens = concat(
    g,
    [
      map(text, 'clip_txt_mapper', cfg.cClipText, 1),
      map(pooled, 'clip_txt_pooled_mapper', cfg.cClipTextPooled, cClipSeq),
      map(img, 'clip_img_mapper', cfg.cClipImg, cClipSeq),
    ],
    1,
  )
  return layerNormLastAxis(g, tokens, cCond, 1e-6)
}

/**
 * ControlNet inputs `cnet_<k>` (B, c, h, w) of any spatial size, added to the input of the k-th ResBlock call
 * after a bilinear resize (align_corners=True) to its size, as StageC._down_encode / _up_decode do.
 */
function controlNetInputs(g: Graph, blocks: number[]) {
  const wanted = new Set(blocks)
  let calls = 0
  return {
    resBlockInput(x: Value, c: number): Value {
      const k = calls++
      if (!wanted.has(k)) return x
      const cnet = g.input(`cnet_${k}`, ['batch', c, `cnet_${k}_height`, `cnet_${k}_width`])
      return add(g, x, resizeBilinearLike(g, cnet, x))
    },
    /** After the build: every requested block was a ResBlock call. */
    assertAllUsed(): void {
      const missing = blocks.filter((k) => !(Number.isInteger(k) && k >= 0 && k < calls))
      if (missing.length)
        throw new Error(
          `Stage C has ${calls} ResBlock calls (0..${calls - 1}): no ControlNet block ${missing}`,
        )
    },
  }
}

/** Width of each ResBlock call in forward order (down path with repeats, then up path): ControlNet outputs must match. */
export function resBlockWidths(cfg: StageCConfig): number[] {
  const n = cfg.cHidden.length
  const calls = (level: number, blocks: number, repeats: number) => {
    const perBlock = [...(cfg.levelConfig[level] as string)].filter((t) => t === 'C').length
    return new Array<number>(perBlock * blocks * repeats).fill(cfg.cHidden[level] as number)
  }
  return [
    ...cfg.cHidden.flatMap((_, i) => calls(i, cfg.blocks[0][i] as number, cfg.blockRepeat[0][i] as number)),
    ...cfg.cHidden.flatMap((_, u) =>
      calls(n - 1 - u, cfg.blocks[1][u] as number, cfg.blockRepeat[1][u] as number),
    ),
  ]
}

export function buildStageC(sd: StateDict, cfg: StageCConfig, opts: StageOptions = {}): Graph {
  const g = new Graph('stage_c', opts)
  const c0 = cfg.cHidden[0] as number
  const x = g.input('x', ['batch', cfg.cIn, 'height', 'width'])
  const r = g.input('r', ['batch'], 'float32')
  const text = g.input('clip_text', ['batch', 'seq', cfg.cClipText])
  const pooled = g.input('clip_text_pooled', ['batch', 1, cfg.cClipTextPooled])
  // (B, N, c_clip_img): each image embedding makes c_clip_seq tokens (text-to-image passes one of zeros).
  const img = g.input('clip_img', ['batch', 'images', cfg.cClipImg])
  const conds = cfg.tConds.map((n) => (opts.extraInputs ? g.input(n, ['batch'], 'float32') : undefined))

  const t = timeEmbedding(g, r, cfg.cR, conds)
  const cond = clipTokens(g, sd, cfg, text, pooled, img)
  let h = patchEmbedding(g, x, sd, cfg.cIn, c0, cfg.patchSize)

  // switch_level=[False]: level changes are LayerNorm2d + a 1×1 conv, no resampling.
  const levelConv = (v: Value, key: string, cIn: number, cOut: number) =>
    conv2d(
      g,
      layerNorm2d(g, v, cIn),
      sd.take(`${key}.weight`, [cOut, cIn, 1, 1]),
      sd.take(`${key}.bias`, [cOut]),
      key,
    )
  const cnet = opts.controlnetBlocks ? controlNetInputs(g, opts.controlnetBlocks) : undefined
  const hooks: LevelHooks = {
    ...(cnet ? { resBlockInput: cnet.resBlockInput } : {}),
    downscaler: (v: Value, i: number) =>
      levelConv(
        v,
        `down_downscalers.${i}.1.blocks.0`,
        cfg.cHidden[i - 1] as number,
        cfg.cHidden[i] as number,
      ),
    upscaler: (v: Value, i: number, u: number) =>
      levelConv(v, `up_upscalers.${u}.1.blocks.1`, cfg.cHidden[i] as number, cfg.cHidden[i - 1] as number),
  }
  const levels = downEncode(g, h, t, cond, sd, cfg, hooks)
  h = upDecode(g, levels, t, cond, sd, cfg, hooks)
  cnet?.assertAllUsed()
  g.output(patchClassifier(g, h, sd, c0, cfg.cOut, cfg.patchSize), 'eps', [
    'batch',
    cfg.cOut,
    'height',
    'width',
  ])
  sd.assertComplete()
  return g
}
