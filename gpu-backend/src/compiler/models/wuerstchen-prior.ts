// Würstchen v2 Stage C (DF WuerstchenPrior, W2 modules.py Prior): text-conditional diffusion on the
// 16-channel EfficientNet latent; `depth` × [ResBlock, TimestepBlock, AttnBlock] at the latent resolution.
import { attnBlock } from '../blocks/attn-block.ts'
import { layerNorm2d } from '../blocks/layer-norm-2d.ts'
import { timeEmbedding } from '../blocks/r-embedding.ts'
import { resBlock } from '../blocks/res-block.ts'
import { timestepBlock } from '../blocks/timestep-block.ts'
import { Graph, type GraphOptions, type Value } from '../onnx/graph.ts'
import { add, chunk, conv2d, div, linear, sub } from '../onnx/ops.ts'
import type { StateDict } from '../weights/state-dict.ts'
import { countEntries } from './cascade-unet.ts'
import { assertReleasedOrConfigured, type Kwargs, pick } from './config.ts'

export interface WuerstchenPriorConfig {
  cIn: number
  c: number
  cCond: number
  cR: number
  depth: number
  nhead: number
}

/** Released variants by width (models.md 8.1: warp-ai/wuerstchen-prior, c 1536, 24 heads of 64). */
const PRIOR_VARIANTS: Record<number, string> = { 1536: 'warp-ai/wuerstchen-prior' }

/** Every size from the checkpoint shapes, `kwargs` first where given; heads default to 64 wide. */
export function wuerstchenPriorConfig(sd: StateDict, kwargs?: Kwargs): WuerstchenPriorConfig {
  const shape = (k: string) => sd.shapeOf(k) ?? []
  const [width = 1536, cIn = 16] = shape('projection.weight')
  const [, cCond = 1280] = shape('cond_mapper.0.weight')
  const [, cR = 64] = shape('blocks.1.mapper.weight')
  assertReleasedOrConfigured('Würstchen prior', PRIOR_VARIANTS[width], kwargs, `c ${width}`)
  const c = pick(kwargs, 'c', width)
  return {
    cIn: pick(kwargs, 'c_in', cIn),
    c,
    cCond: pick(kwargs, 'c_cond', cCond),
    cR: pick(kwargs, 'c_r', cR),
    depth: pick(kwargs, 'depth', countEntries(sd, 'blocks') / 3),
    nhead: pick(kwargs, 'nhead', c / 64),
  }
}

// `cond_mapper`: Linear(c_cond -> c) -> LeakyReLU(0.2) -> Linear(c -> c), per token. [B, S, c_cond] -> [B, S, c]
function condMapper(g: Graph, sd: StateDict, cond: Value, cfg: WuerstchenPriorConfig): Value {
  const { c, cCond } = cfg
  const h = linear(
    g,
    cond,
    sd.take('cond_mapper.0.weight', [c, cCond]),
    sd.take('cond_mapper.0.bias', [c]),
    'cond_mapper.0',
  )
  const act = g.op1('LeakyRelu', [h], { alpha: { f: 0.2 } })
  return linear(
    g,
    act,
    sd.take('cond_mapper.2.weight', [c, c]),
    sd.take('cond_mapper.2.bias', [c]),
    'cond_mapper.2',
  )
}

// `out`: LayerNorm2d -> Conv 1×1 (c -> 2·c_in) = [a, b]; ε = (x − a)/(|1 − b| + 1e-5), in float32.
// h: [B, c, h, w], x: [B, c_in, h, w] -> [B, c_in, h, w]
function priorHead(g: Graph, sd: StateDict, h: Value, x: Value, cfg: WuerstchenPriorConfig): Value {
  const { c, cIn } = cfg
  const w = sd.take('out.1.weight', [2 * cIn, c, 1, 1])
  const ab = g.cast(conv2d(g, layerNorm2d(g, h, c), w, sd.take('out.1.bias', [2 * cIn]), 'out.1'), 'float32')
  const [a, b] = chunk(g, ab, 2, 1) as [Value, Value]
  const one = g.constF([1], [1], 'float32')
  const denom = add(g, g.op1('Abs', [sub(g, one, b)]), g.constF([1e-5], [1], 'float32'))
  return g.cast(div(g, sub(g, g.cast(x, 'float32'), a), denom), g.floatType)
}

export function buildWuerstchenPrior(
  sd: StateDict,
  cfg: WuerstchenPriorConfig,
  opts: GraphOptions = {},
): Graph {
  const g = new Graph('stage_c', opts)
  const { c, cIn } = cfg
  const x = g.input('x', ['batch', cIn, 'height', 'width'])
  const r = g.input('r', ['batch'], 'float32')
  const text = g.input('c', ['batch', 'seq', cfg.cCond])

  const t = timeEmbedding(g, r, cfg.cR, [])
  // The mapped tokens are the AttnBlocks' condition, so their kv_mapper is Linear(c -> c).
  const cond = condMapper(g, sd, text, cfg)
  let h = conv2d(
    g,
    x,
    sd.take('projection.weight', [c, cIn, 1, 1]),
    sd.take('projection.bias', [c]),
    'projection',
  )
  for (let k = 0; k < cfg.depth; k++) {
    h = resBlock(g, h, sd, `blocks.${3 * k}`, c)
    h = timestepBlock(g, h, t, sd, `blocks.${3 * k + 1}`, c, [])
    h = attnBlock(g, h, cond, sd, `blocks.${3 * k + 2}`, c, c, cfg.nhead)
  }
  g.output(priorHead(g, sd, h, x, cfg), 'eps', ['batch', cIn, 'height', 'width'])
  sd.assertComplete()
  return g
}
