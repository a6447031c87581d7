// CLIPEncoderLayer (HF modeling_clip.py), shared by the text and the vision towers: pre-LN,
// x + attn(LN1(x)) with separate q/k/v/out projections, then + MLP(LN2(·)) with fc1 -> activation -> fc2.
import type { Graph, Value } from '../onnx/graph.ts'
import { add, chunk, gelu, layerNormAffine, linear, mul, scalar, sigmoid } from '../onnx/ops.ts'
import { type StateDict, stackRows } from '../weights/state-dict.ts'
import { multiHeadAttention } from './attention.ts'

export const CLIP_ACTIVATIONS = {
  /** Exact erf GELU (bigG, H). */
  gelu: (g: Graph, x: Value) => gelu(g, x),
  /** x·σ(1.702x) (openai CLIP, e.g. ViT-L/14). */
  quick_gelu: (g: Graph, x: Value) => mul(g, x, sigmoid(g, mul(g, x, scalar(g, 1.702)))),
}
export type ClipHiddenAct = keyof typeof CLIP_ACTIVATIONS

/** The HF config fields one layer needs. */
export interface ClipLayerConfig {
  hidden: number
  intermediate: number
  heads: number
  hiddenAct: ClipHiddenAct
  layerNormEps: number
}

/** A config's `hidden_act`, refused by name when the port has no such activation. */
export function clipHiddenAct(what: string, act: string): ClipHiddenAct {
  if (!(act in CLIP_ACTIVATIONS))
    throw new Error(`${what}: hidden_act ${act} (supported: ${Object.keys(CLIP_ACTIVATIONS)})`)
  return act as ClipHiddenAct
}

const QKV = ['q_proj', 'k_proj', 'v_proj']

// CLIPAttention: x: [B, S, C] -> [B, S, C]; `bias`: additive float32 mask (text: causal + padding; vision: none)
function clipAttention(
  g: Graph,
  sd: StateDict,
  x: Value,
  name: string,
  cfg: ClipLayerConfig,
  bias?: Value,
): Value {
  const c = cfg.hidden
  const w = (p: string) => sd.take(`${name}.${p}.weight`, [c, c])
  const b = (p: string) => sd.take(`${name}.${p}.bias`, [c])
  const [q, k, v] = (
    g.fused
      ? chunk(g, linear(g, x, stackRows(QKV.map(w)), stackRows(QKV.map(b)), `${name}.qkv_proj`), 3, 2)
      : QKV.map((p) => linear(g, x, w(p), b(p), `${name}.${p}`))
  ) as [Value, Value, Value]
  const o = multiHeadAttention(g, q, k, v, c, cfg.heads, bias)
  return linear(g, o, w('out_proj'), b('out_proj'), `${name}.out_proj`)
}

// CLIPMLP: fc1 -> activation -> fc2; x: [B, S, C] -> [B, S, C]
function clipMlp(g: Graph, sd: StateDict, x: Value, name: string, cfg: ClipLayerConfig): Value {
  const { hidden: c, intermediate: m } = cfg
  const h = linear(
    g,
    x,
    sd.take(`${name}.fc1.weight`, [m, c]),
    sd.take(`${name}.fc1.bias`, [m]),
    `${name}.fc1`,
  )
  const a = CLIP_ACTIVATIONS[cfg.hiddenAct](g, h)
  return linear(g, a, sd.take(`${name}.fc2.weight`, [c, m]), sd.take(`${name}.fc2.bias`, [c]), `${name}.fc2`)
}

/** nn.LayerNorm(hidden) with affine parameters, in float32. x: [..., C] -> [..., C] */
export function clipLayerNorm(g: Graph, sd: StateDict, x: Value, name: string, cfg: ClipLayerConfig): Value {
  const w = sd.take(`${name}.weight`, [cfg.hidden])
  const b = sd.take(`${name}.bias`, [cfg.hidden])
  return layerNormAffine(g, x, w, b, name, cfg.layerNormEps)
}

// x: [B, S, C] -> [B, S, C]
export function clipEncoderLayer(
  g: Graph,
  sd: StateDict,
  x: Value,
  name: string,
  cfg: ClipLayerConfig,
  bias?: Value,
): Value {
  const h = add(
    g,
    x,
    clipAttention(g, sd, clipLayerNorm(g, sd, x, `${name}.layer_norm1`, cfg), `${name}.self_attn`, cfg, bias),
  )
  return add(g, h, clipMlp(g, sd, clipLayerNorm(g, sd, h, `${name}.layer_norm2`, cfg), `${name}.mlp`, cfg))
}
