// CLIP text encoder (HF CLIPTextModel / CLIPTextModelWithProjection, modeling_clip.py; models.md 6.1):
// token + position embeddings, L pre-LN layers [LN1 -> causal, key-padded self-attention -> +; LN2 -> MLP -> +],
// final_layer_norm, pooled = the hidden state at the first EOS, text_projection (no bias) when present.
import {
  type ClipLayerConfig,
  clipEncoderLayer,
  clipHiddenAct,
  clipLayerNorm,
} from '../blocks/clip-encoder-layer.ts'
import { Graph, type Value } from '../onnx/graph.ts'
import { add, linear, reshape } from '../onnx/ops.ts'
import type { StateDict } from '../weights/state-dict.ts'
import { countEntries } from './cascade-unet.ts'
import { assertReleasedOrConfigured, type Kwargs, pick } from './config.ts'
import type { StageOptions } from './stage-c.ts'

export interface ClipTextConfig extends ClipLayerConfig {
  vocab: number
  layers: number
  /** max_position_embeddings: the fixed sequence length of `input_ids` (77). */
  positions: number
  /** text_projection width; undefined for a CLIPTextModel (no `text_embeds`). */
  projection?: number
  /** Pooling reads the first position holding this id. */
  eosTokenId: number
}

/** Released text towers by width (models.md 6.1, 8.4): heads are 64 wide, `gelu`, eps 1e-5. */
const CLIP_TEXT_VARIANTS: Record<number, string> = { 1280: 'ViT-bigG-14', 1024: 'ViT-H-14' }

const P = 'text_model'

/**
 * Sizes from the checkpoint shapes; heads, activation, eps and EOS id from `kwargs` when given: a HF
 * CLIPTextConfig (config.json), a CLIPConfig (its `text_config`), or the golden `{class, config}` file.
 */
export function clipTextConfig(sd: StateDict, kwargs?: Kwargs): ClipTextConfig {
  const hf = (kwargs?.config ?? kwargs?.text_config ?? kwargs) as Kwargs | undefined
  const shape = (k: string) => sd.shapeOf(k) ?? []
  const [vocab = 49408, width = 1280] = shape(`${P}.embeddings.token_embedding.weight`)
  const [positions = 77] = shape(`${P}.embeddings.position_embedding.weight`)
  const [intermediate = 4 * width] = shape(`${P}.encoder.layers.0.mlp.fc1.weight`)
  // A checkpoint says by its keys; a config alone (make-tiny's schema pass) by HF's `architectures`.
  const withProjection = (hf?.architectures as string[] | undefined)?.includes('CLIPTextModelWithProjection')
  const [projection = withProjection ? (hf?.projection_dim as number | undefined) : undefined] =
    shape('text_projection.weight')
  assertReleasedOrConfigured('CLIP text encoder', CLIP_TEXT_VARIANTS[width], hf, `hidden ${width}`)
  const hidden = pick(hf, 'hidden_size', width)
  const hiddenAct = clipHiddenAct('CLIP text encoder', pick(hf, 'hidden_act', 'gelu'))
  // A legacy config's eos_token_id 2 makes HF pool at argmax(input_ids): the position of the largest id,
  // the EOS (vocab − 1 = 49407) in tokenizer output, so both rules read the same position.
  const eos = pick<number | undefined>(hf, 'eos_token_id', undefined)
  return {
    vocab: pick(hf, 'vocab_size', vocab),
    hidden,
    intermediate: pick(hf, 'intermediate_size', intermediate),
    layers: pick(hf, 'num_hidden_layers', countEntries(sd, `${P}.encoder.layers`)),
    heads: pick(hf, 'num_attention_heads', hidden / 64),
    positions: pick(hf, 'max_position_embeddings', positions),
    ...(projection !== undefined ? { projection: pick(hf, 'projection_dim', projection) } : {}),
    hiddenAct,
    layerNormEps: pick(hf, 'layer_norm_eps', 1e-5),
    eosTokenId: eos === undefined || eos === 2 ? vocab - 1 : eos,
  }
}

// input_ids: [B, S] int64 -> [B, S, C]: token_embedding(ids) + position_embedding (S = max positions).
function clipTextEmbeddings(g: Graph, sd: StateDict, ids: Value, cfg: ClipTextConfig): Value {
  const table = (key: string, rows: number) => {
    const t = sd.take(`${P}.embeddings.${key}.weight`, [rows, cfg.hidden])
    return g.weight(`${P}.embeddings.${key}.weight`, t.shape, () => t.read())
  }
  const tokens = g.op1(
    'Gather',
    [table('token_embedding', cfg.vocab), ids],
    { axis: 0 },
    { outType: g.floatType },
  )
  return add(g, tokens, table('position_embedding', cfg.positions))
}

/**
 * Additive float32 mask [B, 1, S, S]: causal (key after query) plus key padding (attention_mask 0), each
 * float32 min as HF's _create_4d_causal_attention_mask / _prepare_4d_attention_mask build them.
 */
function attentionBias(g: Graph, mask: Value, s: number): Value {
  const min = -3.4028234663852886e38
  const causal = g.weight(
    `${P}.causal_attention_mask`,
    [1, 1, s, s],
    () => Float32Array.from({ length: s * s }, (_, i) => (i % s > Math.floor(i / s) ? min : 0)),
    'float32',
  )
  const keep = g.cast(mask, 'float32')
  const padding = g.op1('Mul', [
    g.op1('Sub', [g.constF([1], [1], 'float32'), keep]),
    g.constF([min], [1], 'float32'),
  ])
  return add(g, causal, reshape(g, padding, [0, 1, 1, s]))
}

// Pooled output: hidden[b, first position where ids == eos]; hidden: [B, S, C], ids: [B, S] -> [B, C]
function eosPooled(g: Graph, hidden: Value, ids: Value, eosTokenId: number): Value {
  const isEos = g.cast(g.op1('Equal', [ids, g.constI64([eosTokenId])], {}, { outType: 'bool' }), 'int32')
  // ArgMax returns the first maximum: the first EOS (position 0 when a row has none, as HF's argmax does).
  const pos = g.op1('ArgMax', [isEos], { axis: 1, keepdims: 1 }, { outType: 'int64' })
  return g.op1('GatherND', [hidden, pos], { batch_dims: 1 })
}

export function buildClipText(sd: StateDict, cfg: ClipTextConfig, opts: StageOptions = {}): Graph {
  const g = new Graph('text_encoder', opts)
  const s = cfg.positions
  const ids = g.input('input_ids', ['batch', s], 'int64')
  const mask = g.input('attention_mask', ['batch', s], 'int64')
  sd.ignore((k) => k === `${P}.embeddings.position_ids`)

  let h = clipTextEmbeddings(g, sd, ids, cfg)
  const bias = attentionBias(g, mask, s)
  for (let i = 0; i < cfg.layers; i++) h = clipEncoderLayer(g, sd, h, `${P}.encoder.layers.${i}`, cfg, bias)
  g.output(h, 'hidden_pre_norm', ['batch', s, cfg.hidden])
  const last = clipLayerNorm(g, sd, h, `${P}.final_layer_norm`, cfg)
  g.output(last, 'last_hidden_state', ['batch', s, cfg.hidden])
  if (cfg.projection !== undefined) {
    const w = sd.take('text_projection.weight', [cfg.projection, cfg.hidden])
    const embeds = linear(g, eosPooled(g, last, ids, cfg.eosTokenId), w, undefined, 'text_projection')
    g.output(embeds, 'text_embeds', ['batch', cfg.projection])
  }
  sd.assertComplete()
  return g
}
