// Stage A: Stable Cascade's StageA (SC modules/stage_a.py) and Würstchen v2's Paella VQGAN (W2 vqgan.py
// VQModel; DF PaellaVQModel) are one network; the families differ only in the scale factor and in the name of
// the unused VQ codebook. c_levels[i] = c_hidden / 2^(levels-1-i), so c_levels[0] is the full-resolution width.
// Both graphs run channels-last between the resampling convs; 1×1 convs are MatMuls there.
import { batchNorm2d } from '../blocks/batch-norm.ts'
import { bordersOf } from '../blocks/borders.ts'
import { stageAResBlock } from '../blocks/stage-a-res-block.ts'
import { FAMILY_SETTINGS, type Family } from '../manifest.ts'
import { Graph, type Value } from '../onnx/graph.ts'
import {
  conv2d,
  convTranspose2d,
  div,
  inChunks,
  linear,
  mul,
  pixelShuffle,
  pixelUnshuffle,
  scalar,
  slice,
  toNCHW,
  toNHWC,
} from '../onnx/ops.ts'
import { type LazyTensor, type StateDict, scaleRows } from '../weights/state-dict.ts'
import { countEntries } from './cascade-unet.ts'
import { type Kwargs, pick } from './config.ts'
import type { StageOptions } from './stage-c.ts'

export interface StageAConfig {
  levels: number
  bottleneckBlocks: number
  /** Width of the latent-resolution level (c_hidden; DF embed_dim). */
  cHidden: number
  cLatent: number
  /** PixelUnshuffle / PixelShuffle factor of in_block and out_block (DF up_down_scale_factor). */
  shuffle: number
  /** Stage B's latent = VQGAN latent / scaleFactor: the decoder multiplies by it, the encoder divides. */
  scaleFactor: number
}

const IMAGE_CHANNELS = 3
const BN_EPS = 1e-5

/** Keys each graph answers for; anything outside both (but the codebook) is refused by both. */
const DECODER_KEYS = /^(up_blocks|out_block)\./
const ENCODER_KEYS = /^(in_block|down_blocks)\./
/** Neither graph quantizes: SC/W2 `vquantizer.codebook.weight`, DF `vquantizer.embedding.weight`. */
const CODEBOOK = /^vquantizer\.(codebook|embedding)\.weight$/

/** levels and bottleneck_blocks from the up_blocks indices: the ConvTranspose upsamplers hold `weight`/`bias` directly. */
function decoderLayout(sd: StateDict): { levels: number; bottleneckBlocks: number } | undefined {
  const n = countEntries(sd, 'up_blocks')
  if (n === 0) return undefined
  const ups = Array.from({ length: n }, (_, j) => j).filter(
    (j) => j > 0 && (sd.has(`up_blocks.${j}.weight`) || sd.has(`up_blocks.${j}.bias`)),
  )
  return { levels: ups.length + 1, bottleneckBlocks: (ups[0] ?? n) - 1 }
}

/**
 * Sizes from `kwargs` when given (SC StageA or DF PaellaVQModel arguments), else from the checkpoint, whose shapes
 * and indices fix every one; the scale factor is the family's unless the config gives one.
 */
export function stageAConfig(sd: StateDict, family: Family, kwargs?: Kwargs): StageAConfig {
  const [cHidden = 384, cLatent = 4] = sd.shapeOf('up_blocks.0.0.weight') ?? []
  const layout = decoderLayout(sd) ?? { levels: 2, bottleneckBlocks: 12 }
  const [, inDim = IMAGE_CHANNELS * 4] = sd.shapeOf('in_block.1.weight') ?? []
  // diffusers' stabilityai/stable-cascade vqgan/config.json inherits v2's 0.3764; the Stable Cascade family
  // follows the official StageA, whose Stage B was trained on encode / 0.43 (models.md 12.1).
  const configScale =
    family === 'stable-cascade' && kwargs?._class_name === 'PaellaVQModel' ? undefined : kwargs
  return {
    levels: pick(kwargs, 'levels', layout.levels),
    bottleneckBlocks: pick(kwargs, 'bottleneck_blocks', layout.bottleneckBlocks),
    cHidden: pick(kwargs, 'c_hidden', pick(kwargs, 'embed_dim', cHidden)),
    cLatent: pick(kwargs, 'c_latent', pick(kwargs, 'latent_channels', cLatent)),
    shuffle: pick(kwargs, 'up_down_scale_factor', Math.round(Math.sqrt(inDim / IMAGE_CHANNELS))),
    scaleFactor: pick(configScale, 'scale_factor', FAMILY_SETTINGS[family].stage_a_scale),
  }
}

const levelWidths = (cfg: StageAConfig) =>
  Array.from({ length: cfg.levels }, (_, i) => Math.floor(cfg.cHidden / 2 ** (cfg.levels - 1 - i)))

/** A 1×1 conv's (out, in, 1, 1) weight as the (out, in) matrix of a channels-last MatMul. */
const asMatrix = (t: LazyTensor): LazyTensor => ({ ...t, shape: t.shape.slice(0, 2) })

// x: [B, H, W, cIn] -> [B, H, W, cOut]; nn.Conv2d(cIn, cOut, 1)
function pointwise(
  g: Graph,
  x: Value,
  sd: StateDict,
  name: string,
  cIn: number,
  cOut: number,
  scale = 1,
): Value {
  const w = sd.take(`${name}.weight`, [cOut, cIn, 1, 1])
  return linear(
    g,
    x,
    asMatrix(scale === 1 ? w : scaleRows(w, () => scale)),
    sd.take(`${name}.bias`, [cOut]),
    name,
  )
}

const UP = { kernel: 4, stride: 2, pad: 1 }
/** Input rows either side of a band that its output rows read: ⌈(kernel − 1 − pad) / stride⌉. */
const UP_HALO = Math.ceil((UP.kernel - 1 - UP.pad) / UP.stride)
/** Bands of rows the fused upsampler runs in: ORT's ConvTranspose holds a (cOut·16 × H·W) column buffer. */
const UP_ROW_CHUNKS = 8

/**
 * x: [B, H, W, cIn] -> [B, 2H, 2W, cOut]; nn.ConvTranspose2d(k4, s2, p1). A tile graph pads the input itself by
 * UP_HALO cells (wrapped where the axis tiles, zeros else, which adds nothing to the sums) and crops the
 * stride·UP_HALO output cells more that this adds: where the axis wraps, the first output rows then see the last
 * input row as the ConvTranspose's zero padding hid it.
 */
function upsample(g: Graph, x: Value, sd: StateDict, name: string, cIn: number, cOut: number): Value {
  const w = sd.take(`${name}.weight`, [cIn, cOut, UP.kernel, UP.kernel])
  const b = sd.take(`${name}.bias`, [cOut])
  const { stride, pad } = UP
  const borders = bordersOf(g)
  const halo = borders.tiled ? UP_HALO : 0
  const crop = pad + stride * halo
  // NCHW in; pads columns (axis 3) or rows (axis 2) for a tile graph
  const padded = (v: Value, axis: 2 | 3) =>
    halo ? borders.pad(v, axis, axis === 2 ? 0 : 1, halo, 'zeros') : v
  if (!g.fused) {
    const v = padded(padded(toNCHW(g, x), 2), 3)
    return toNHWC(g, convTranspose2d(g, v, w, b, name, { stride, pad: crop }))
  }
  // A band of L rows with its halo upsamples to stride·(L + 2·halo − 1) + kernel − 2·pad rows (positive even for
  // an empty band, which ORT's ConvTranspose needs); the band's own stride·L rows follow the first stride·halo.
  const first = stride * UP_HALO
  const after = stride * UP_HALO - stride + UP.kernel - 2 * pad
  const band = (rows: Value) =>
    toNHWC(
      g,
      slice(
        g,
        convTranspose2d(g, padded(toNCHW(g, rows), 3), w, b, name, { stride, pad: [pad, crop] }),
        2,
        first,
        -after,
      ),
    )
  return inChunks(g, x, 1, UP_ROW_CHUNKS, band, UP_HALO, (v, p) => borders.pad(v, 1, 0, p, 'zeros'))
}

// x: [B, H, W, cIn] -> [B, ⌊H/2⌋, ⌊W/2⌋, cOut]; nn.Conv2d(k4, s2, p1)
function downsample(g: Graph, x: Value, sd: StateDict, name: string, cIn: number, cOut: number): Value {
  const w = sd.take(`${name}.weight`, [cOut, cIn, 4, 4])
  return toNHWC(g, conv2d(g, toNCHW(g, x), w, sd.take(`${name}.bias`, [cOut]), name, { stride: 2, pad: 1 }))
}

/**
 * `down_blocks.N` = Conv 1×1 without bias + BatchNorm2d (eval statistics), then / scale_factor.
 * x: [B, H, W, cIn] -> [B, cLatent, H, W]. Fused: BatchNorm and the division fold into the conv on the host.
 */
function latentProjection(
  g: Graph,
  x: Value,
  sd: StateDict,
  name: string,
  cIn: number,
  cfg: StageAConfig,
): Value {
  const c = cfg.cLatent
  const w = asMatrix(sd.take(`${name}.0.weight`, [c, cIn, 1, 1]))
  const [gamma, beta, mean, variance] = ['weight', 'bias', 'running_mean', 'running_var'].map((k) =>
    sd.take(`${name}.1.${k}`, [c]),
  ) as [LazyTensor, LazyTensor, LazyTensor, LazyTensor]
  // An int64 step counter of training; eval BatchNorm does not read it (older checkpoints lack it).
  sd.ignore((k) => k === `${name}.1.num_batches_tracked`)
  if (!g.fused) {
    const y = toNCHW(g, linear(g, x, w, undefined, `${name}.0`))
    return div(g, batchNorm2d(g, y, sd, `${name}.1`, c, BN_EPS), scalar(g, cfg.scaleFactor))
  }
  // y = (W·x − mean)·γ/√(var + eps) + β, all / scale: one row factor and one bias per channel.
  const rowFactor = () => {
    const gm = gamma.read()
    const v = variance.read()
    return Float64Array.from(
      { length: c },
      (_, i) => (gm[i] as number) / Math.sqrt((v[i] as number) + BN_EPS) / cfg.scaleFactor,
    )
  }
  const bias: LazyTensor = {
    shape: [c],
    dtype: 'F32',
    read: () => {
      const f = rowFactor()
      const b = beta.read()
      const m = mean.read()
      return Float32Array.from(
        { length: c },
        (_, i) => (b[i] as number) / cfg.scaleFactor - (m[i] as number) * (f[i] as number),
      )
    },
  }
  return toNCHW(g, linear(g, x, scaleRows(w, rowFactor), bias, `${name}.0`))
}

/**
 * `stage_a_decoder`: latent (B, c_latent, h, w), the Stage B result as sampled -> image (B, 3, 4h, 4w), unclamped.
 * Applies the family's scale first (SC StageA.decode multiplies by 0.43; the v2 pipeline calls
 * vqgan.decode(0.3764 · latents)); fused graphs fold it into up_blocks.0.
 */
export function buildStageADecoder(sd: StateDict, cfg: StageAConfig, opts: StageOptions = {}): Graph {
  const g = new Graph('stage_a_decoder', opts)
  const c = levelWidths(cfg)
  const n = cfg.levels
  const latent = g.input('latent', ['batch', cfg.cLatent, 'latent_height', 'latent_width'])
  const z = g.fused ? latent : mul(g, latent, scalar(g, cfg.scaleFactor))
  let h = pointwise(
    g,
    toNHWC(g, z),
    sd,
    'up_blocks.0.0',
    cfg.cLatent,
    cfg.cHidden,
    g.fused ? cfg.scaleFactor : 1,
  )
  let j = 1
  for (let i = 0; i < n; i++) {
    const width = c[n - 1 - i] as number
    for (let k = 0; k < (i === 0 ? cfg.bottleneckBlocks : 1); k++)
      h = stageAResBlock(g, h, sd, `up_blocks.${j++}`, width)
    if (i < n - 1) h = upsample(g, h, sd, `up_blocks.${j++}`, width, c[n - 2 - i] as number)
  }
  const s = cfg.shuffle
  h = pointwise(g, h, sd, 'out_block.0', c[0] as number, IMAGE_CHANNELS * s * s)
  g.output(pixelShuffle(g, toNCHW(g, h), s), 'image', [
    'batch',
    IMAGE_CHANNELS,
    'image_height',
    'image_width',
  ])
  sd.ignore((k) => CODEBOOK.test(k))
  sd.assertComplete((k) => !ENCODER_KEYS.test(k))
  return g
}

/**
 * `stage_a_encoder`: image (B, 3, H, W) in [0, 1] -> latent (B, c_latent, H/4, W/4) in Stage B's space, i.e. the
 * BatchNorm output / scale_factor: SC StageA.encode(quantize=False)[0] (golden `latent`) and W2 VQModel.encode;
 * DF PaellaVQModel.encode returns the BatchNorm output itself (golden v2 `latents` = our latent · 0.3764).
 */
export function buildStageAEncoder(sd: StateDict, cfg: StageAConfig, opts: StageOptions = {}): Graph {
  const g = new Graph('stage_a_encoder', opts)
  const c = levelWidths(cfg)
  const s = cfg.shuffle
  const image = g.input('image', ['batch', IMAGE_CHANNELS, 'image_height', 'image_width'])
  let h = pointwise(
    g,
    toNHWC(g, pixelUnshuffle(g, image, s)),
    sd,
    'in_block.1',
    IMAGE_CHANNELS * s * s,
    c[0] as number,
  )
  let j = 0
  for (let i = 0; i < cfg.levels; i++) {
    if (i > 0) h = downsample(g, h, sd, `down_blocks.${j++}`, c[i - 1] as number, c[i] as number)
    h = stageAResBlock(g, h, sd, `down_blocks.${j++}`, c[i] as number)
  }
  const latent = latentProjection(g, h, sd, `down_blocks.${j}`, cfg.cHidden, cfg)
  g.output(latent, 'latent', ['batch', cfg.cLatent, 'latent_height', 'latent_width'])
  sd.ignore((k) => CODEBOOK.test(k))
  sd.assertComplete((k) => !DECODER_KEYS.test(k))
  return g
}
