// CLIP vision tower with projection (HF CLIPVisionModelWithProjection, modeling_clip.py), the image encoder of
// Stable Cascade's image variation: its `image_embeds` are Stage C's `clip_img` (openai ViT-L/14, 768 wide;
// `image_encoder/` of the diffusers prior repo). CLIP normalization, patch embedding (no bias) after a class
// token, position embeddings, pre_layrnorm, pre-LN layers, then post_layernorm of the class token and
// visual_projection (no bias). `last_hidden_state` is the encoder output before post_layernorm, as HF returns it.
import {
  type ClipLayerConfig,
  clipEncoderLayer,
  clipHiddenAct,
  clipLayerNorm,
} from '../blocks/clip-encoder-layer.ts'
import { normalizeImage } from '../blocks/normalize-image.ts'
import { Graph, type Value } from '../onnx/graph.ts'
import { add, concat, conv2d, linear, reshape, shapeOf, slice, transpose } from '../onnx/ops.ts'
import { CheckpointError, type StateDict } from '../weights/state-dict.ts'
import { countEntries } from './cascade-unet.ts'
import { assertReleasedOrConfigured, type Kwargs, pick } from './config.ts'
import type { StageOptions } from './stage-c.ts'

export interface ClipVisionConfig extends ClipLayerConfig {
  layers: number
  imageSize: number
  patchSize: number
  projection: number
}

/** CLIPImageProcessor's statistics (openai CLIP). */
const CLIP_STATS = {
  mean: [0.48145466, 0.4578275, 0.40821073],
  std: [0.26862954, 0.26130258, 0.27577711],
}

/** Released vision towers by width: openai ViT-L/14 (heads 64 wide, quick_gelu, eps 1e-5). */
const CLIP_VISION_VARIANTS: Record<number, string> = { 1024: 'ViT-L-14' }

const P = 'vision_model'

/**
 * Sizes from the checkpoint shapes; heads, activation and eps from `kwargs` when given: a HF CLIPVisionConfig
 * (`image_encoder/config.json`), a CLIPConfig (its `vision_config`) or the golden `{class, config}` file.
 */
export function clipVisionConfig(sd: StateDict, kwargs?: Kwargs): ClipVisionConfig {
  const hf = (kwargs?.config ?? kwargs?.vision_config ?? kwargs) as Kwargs | undefined
  const shape = (k: string) => sd.shapeOf(k)
  const patchWeight = shape(`${P}.embeddings.patch_embedding.weight`)
  if (!patchWeight && !hf)
    throw new CheckpointError(
      `${sd.source}: not a CLIP vision checkpoint (no ${P}.embeddings.patch_embedding.weight)`,
    )
  const [width = 1024, , patch = 14] = patchWeight ?? []
  const [positions = 257] = shape(`${P}.embeddings.position_embedding.weight`) ?? []
  const [intermediate = 4 * width] = shape(`${P}.encoder.layers.0.mlp.fc1.weight`) ?? []
  const [projection = 768] = shape('visual_projection.weight') ?? []
  assertReleasedOrConfigured('CLIP vision encoder', CLIP_VISION_VARIANTS[width], hf, `hidden ${width}`)
  const hidden = pick(hf, 'hidden_size', width)
  const patchSize = pick(hf, 'patch_size', patch)
  return {
    hidden,
    intermediate: pick(hf, 'intermediate_size', intermediate),
    heads: pick(hf, 'num_attention_heads', hidden / 64),
    hiddenAct: clipHiddenAct('CLIP vision encoder', pick(hf, 'hidden_act', 'quick_gelu')),
    layerNormEps: pick(hf, 'layer_norm_eps', 1e-5),
    layers: pick(hf, 'num_hidden_layers', countEntries(sd, `${P}.encoder.layers`)),
    imageSize: pick(hf, 'image_size', Math.round(Math.sqrt(positions - 1)) * patchSize),
    patchSize,
    projection: pick(hf, 'projection_dim', projection),
  }
}

// CLIPVisionEmbeddings: [class token; patches] + position embeddings. image: [B, 3, S, S] -> [B, 1 + (S/p)², C]
function visionEmbeddings(g: Graph, sd: StateDict, image: Value, cfg: ClipVisionConfig): Value {
  const c = cfg.hidden
  const grid = cfg.imageSize / cfg.patchSize
  const positions = grid * grid + 1
  const e = `${P}.embeddings`
  const w = sd.take(`${e}.patch_embedding.weight`, [c, 3, cfg.patchSize, cfg.patchSize])
  const patches = conv2d(g, image, w, undefined, `${e}.patch_embedding`, { stride: cfg.patchSize })
  const tokens = transpose(g, reshape(g, patches, [0, c, -1]), [0, 2, 1])
  const cls = sd.take(`${e}.class_embedding`, [c])
  const clsValue = g.weight(`${e}.class_embedding`, [1, 1, c], () => cls.read())
  const batch = concat(g, [shapeOf(g, image, 0, 1), g.constI64([1, c])], 0)
  const clsTokens = g.op1('Expand', [clsValue, batch])
  const pos = sd.take(`${e}.position_embedding.weight`, [positions, c])
  return add(
    g,
    concat(g, [clsTokens, tokens], 1),
    g.weight(`${e}.position_embedding.weight`, [positions, c], () => pos.read()),
  )
}

/** `clip_vision`: image (B, 3, S, S) RGB in [0, 1] at the model's size -> image_embeds (B, P), last_hidden_state. */
export function buildClipVision(sd: StateDict, cfg: ClipVisionConfig, opts: StageOptions = {}): Graph {
  const g = new Graph('clip_vision', opts)
  const s = cfg.imageSize
  const image = g.input('image', ['batch', 3, s, s])
  sd.ignore((k) => k === `${P}.embeddings.position_ids`)
  let h = visionEmbeddings(g, sd, normalizeImage(g, image, CLIP_STATS), cfg)
  h = clipLayerNorm(g, sd, h, `${P}.pre_layrnorm`, cfg)
  for (let i = 0; i < cfg.layers; i++) h = clipEncoderLayer(g, sd, h, `${P}.encoder.layers.${i}`, cfg)
  const tokens = (s / cfg.patchSize) ** 2 + 1
  g.output(h, 'last_hidden_state', ['batch', tokens, cfg.hidden])
  const pooled = clipLayerNorm(
    g,
    sd,
    reshape(g, slice(g, h, 1, 0, 1), [0, cfg.hidden]),
    `${P}.post_layernorm`,
    cfg,
  )
  const proj = sd.take('visual_projection.weight', [cfg.projection, cfg.hidden])
  g.output(linear(g, pooled, proj, undefined, 'visual_projection'), 'image_embeds', ['batch', cfg.projection])
  sd.assertComplete()
  return g
}
