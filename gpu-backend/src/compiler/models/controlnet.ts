// Stable Cascade's ControlNets (SC modules/controlnet.py ControlNet; `controlnet/*.safetensors`): a bottleneck
// turns the hint into 1280 channels, then one projection per injection point, Conv 1×1 -> LeakyReLU(0.2) ->
// Conv 1×1 to Stage C's width (no biases). The output for injection point k is added to the input of Stage C's
// k-th ResBlock call. It sees neither x nor t, so it runs once per request. Bottlenecks:
// - 'effnet' (canny: 1 channel, inpainting: 4): EfficientNetV2-S features whose stem conv was replaced by
//   Conv2d(c_in, 24, 3, stride 2, padding 0, no bias); the hint is raw [0, 1], not normalized; stride 32.
// - 'large' (super-resolution, hint = 16-channel effnet latent): Conv 1×1 to 16384, LeakyReLU, Conv 1×1 to
//   1024, eight CNetResBlocks, Conv 1×1 to 1280; stride 1.
import { type EffnetLayout, type EffnetStage, efficientNetV2Features } from '../blocks/efficientnet-v2.ts'
import { Graph, type Value } from '../onnx/graph.ts'
import { add, conv2d, gelu, layerNormAffine, toNCHW, toNHWC } from '../onnx/ops.ts'
import { CheckpointError, type StateDict } from '../weights/state-dict.ts'
import { countEntries } from './cascade-unet.ts'
import { type Kwargs, pick } from './config.ts'
import { effnetLayout } from './effnet-layout.ts'
import type { StageOptions } from './stage-c.ts'

export const CONTROLNET_TYPES = ['canny', 'inpainting', 'super_resolution'] as const
export type ControlNetType = (typeof CONTROLNET_TYPES)[number]

/** The 'large' bottleneck's widths (fixed in the official code: 16384, 1024, 8 blocks, 1280). */
export interface LargeBottleneck {
  wide: number
  hidden: number
  resBlocks: number
}

export interface ControlNetConfig {
  type: ControlNetType
  cIn: number
  cProj: number
  /** Stage C ResBlock calls (down then up) that receive each projection, in projection order. */
  projBlocks: number[]
  /** Width of the bottleneck output the projections read (1280). */
  embd: number
  /** Hint pixels per output position: 32 (effnet), 1 (large). */
  hintStride: number
  effnet?: EffnetLayout
  large?: LargeBottleneck
}

/** The released injection points (inference configs controlnet_c_3b_*.yaml), for Stage C big's 64 ResBlocks. */
export const RELEASED_PROJ_BLOCKS = [0, 4, 8, 12, 51, 55, 59, 63]
/** Stage C big's width, the released projections' output. */
const RELEASED_C_PROJ = 2048
/** Effnet-bottleneck ControlNets are named by their hint's channels. */
const EFFNET_TYPES: Record<number, ControlNetType> = { 1: 'canny', 4: 'inpainting' }
const LEAKY_SLOPE = 0.2
/** CNetResBlock's LayerNorm2d is nn.LayerNorm's default: affine, eps 1e-5. */
const CNET_LN_EPS = 1e-5

/**
 * The type from the checkpoint (the stem's input channels; the large bottleneck is super-resolution), widths from
 * its shapes, and the injection points: the released ones for a released ControlNet (8 projections to 2048),
 * else `proj_blocks` of the config (the golden configs: `{bottleneck_mode, c_in, c_proj, proj_blocks, ...}`).
 */
export function controlNetConfig(sd: StateDict, kwargs?: Kwargs): ControlNetConfig {
  const large = pick(kwargs, 'bottleneck_mode', sd.has('backbone.0.weight') ? 'large' : 'effnet') === 'large'
  const projections = countEntries(sd, 'projections')
  const [cProjCkpt, embdCkpt] = sd.shapeOf('projections.0.2.weight') ?? []
  if (!kwargs && (projections === 0 || !(sd.has('backbone.0.0.weight') || large)))
    throw new CheckpointError(`${sd.source}: not a ControlNet checkpoint (no backbone.* and projections.*)`)
  const cProj = pick(kwargs, 'c_proj', cProjCkpt ?? RELEASED_C_PROJ)
  const released = projections === RELEASED_PROJ_BLOCKS.length && cProj === RELEASED_C_PROJ
  const projBlocks = pick<number[] | undefined>(
    kwargs,
    'proj_blocks',
    released ? RELEASED_PROJ_BLOCKS : undefined,
  )
  if (!projBlocks)
    throw new Error(
      `ControlNet ${sd.source}: ${projections} projections to ${cProj} channels is not a released ControlNet; ` +
        'pass --config with its proj_blocks (with --from: a .json beside the file)',
    )
  if (projections && projBlocks.length !== projections)
    throw new CheckpointError(`${sd.source}: ${projections} projections for proj_blocks [${projBlocks}]`)
  if (large) {
    const [wide = 16384, cIn = 16] = sd.shapeOf('backbone.0.weight') ?? []
    const [hidden = 1024] = sd.shapeOf('backbone.2.weight') ?? []
    const resBlocks = pick(kwargs, 'res_blocks', Math.max(countEntries(sd, 'backbone') - 4, 0) || 8)
    const embd = pick(
      kwargs,
      'last_channel',
      sd.shapeOf(`backbone.${3 + resBlocks}.weight`)?.[0] ?? embdCkpt ?? 1280,
    )
    return {
      type: 'super_resolution',
      cIn: pick(kwargs, 'c_in', cIn),
      cProj,
      projBlocks,
      embd,
      hintStride: 1,
      large: {
        wide: pick(kwargs, 'wide_channels', wide),
        hidden: pick(kwargs, 'hidden_channels', hidden),
        resBlocks,
      },
    }
  }
  const setting = kwargs?.inverted_residual_setting as EffnetStage[] | undefined
  const layout = effnetLayout(sd, 'backbone', setting, kwargs?.last_channel as number | undefined)
  if (!layout) throw new CheckpointError(`${sd.source}: not a ControlNet checkpoint (no backbone.0.0.weight)`)
  const cIn = pick(kwargs, 'c_in', layout.cIn)
  const type = EFFNET_TYPES[cIn]
  if (!type)
    throw new CheckpointError(
      `${sd.source}: an effnet ControlNet with ${cIn} hint channels has no released type`,
    )
  return {
    type,
    cIn,
    cProj,
    projBlocks,
    embd: layout.lastChannel,
    hintStride: 32,
    effnet: { ...layout, cIn, stemPad: cIn === 3 ? 1 : 0 },
  }
}

const leakyRelu = (g: Graph, x: Value) => g.op1('LeakyRelu', [x], { alpha: { f: LEAKY_SLOPE } })

// CNetResBlock: x + [LN2d, GELU, Conv 3×3, LN2d, GELU, Conv 3×3](x). [B, c, H, W] -> [B, c, H, W]
function cnetResBlock(g: Graph, x: Value, sd: StateDict, name: string, c: number): Value {
  const ln = (v: Value, i: number) => {
    const p = `${name}.blocks.${i}`
    return toNCHW(
      g,
      layerNormAffine(
        g,
        toNHWC(g, v),
        sd.take(`${p}.weight`, [c]),
        sd.take(`${p}.bias`, [c]),
        p,
        CNET_LN_EPS,
      ),
    )
  }
  const conv = (v: Value, i: number) => {
    const p = `${name}.blocks.${i}`
    return conv2d(g, v, sd.take(`${p}.weight`, [c, c, 3, 3]), sd.take(`${p}.bias`, [c]), p, { pad: 1 })
  }
  return add(g, x, conv(gelu(g, ln(conv(gelu(g, ln(x, 0)), 2), 3)), 5))
}

// The 'large' bottleneck. [B, c_in, H, W] -> [B, embd, H, W]
function largeBottleneck(
  g: Graph,
  x: Value,
  sd: StateDict,
  cfg: ControlNetConfig,
  l: LargeBottleneck,
): Value {
  const pointwise = (v: Value, i: number, cIn: number, cOut: number) =>
    conv2d(
      g,
      v,
      sd.take(`backbone.${i}.weight`, [cOut, cIn, 1, 1]),
      sd.take(`backbone.${i}.bias`, [cOut]),
      `backbone.${i}`,
    )
  let h = pointwise(leakyRelu(g, pointwise(x, 0, cfg.cIn, l.wide)), 2, l.wide, l.hidden)
  for (let i = 0; i < l.resBlocks; i++) h = cnetResBlock(g, h, sd, `backbone.${3 + i}`, l.hidden)
  return pointwise(h, 3 + l.resBlocks, l.hidden, cfg.embd)
}

/** `controlnet`: hint (B, c_in, H, W) in [0, 1] -> cnet_<k> (B, c_proj, H/stride, W/stride) for each k of proj_blocks. */
export function buildControlNet(sd: StateDict, cfg: ControlNetConfig, opts: StageOptions = {}): Graph {
  const g = new Graph('controlnet', opts)
  const hint = g.input('hint', ['batch', cfg.cIn, 'height', 'width'])
  const features = cfg.large
    ? largeBottleneck(g, hint, sd, cfg, cfg.large)
    : efficientNetV2Features(g, hint, sd, 'backbone', cfg.effnet as EffnetLayout)
  cfg.projBlocks.forEach((k, i) => {
    const p = `projections.${i}`
    const h = conv2d(g, features, sd.take(`${p}.0.weight`, [cfg.embd, cfg.embd, 1, 1]), undefined, `${p}.0`)
    const out = conv2d(
      g,
      leakyRelu(g, h),
      sd.take(`${p}.2.weight`, [cfg.cProj, cfg.embd, 1, 1]),
      undefined,
      `${p}.2`,
    )
    g.output(out, `cnet_${k}`, ['batch', cfg.cProj, 'cnet_height', 'cnet_width'])
  })
  sd.assertComplete()
  return g
}
