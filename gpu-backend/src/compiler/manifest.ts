// manifest.json of a model directory: what the backend needs to load and run a converted model.
import { z } from 'zod'

export const FAMILIES = ['stable-cascade', 'wuerstchen-v2'] as const
export const Family = z.enum(FAMILIES)
export type Family = z.infer<typeof Family>

export const ManifestFile = z.object({
  path: z.string(),
  bytes: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
})

export const ManifestLora = z.object({
  file: z.string(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  strength: z.number(),
  format: z.enum(['official', 'kohya', 'peft']),
})
export type ManifestLora = z.infer<typeof ManifestLora>

export const FamilySettings = z.object({
  /** Stage A decode multiplies the Stage B latent by this (applied inside stage_a_decoder.onnx). */
  stage_a_scale: z.number(),
  sampler: z.enum(['gdf', 'ddpm-wuerstchen']),
  /** Which text-encoder outputs condition each stage. */
  text: z.object({ stage_c: z.array(z.string()), stage_b: z.array(z.string()) }),
  /** v2: the prior works in normalized effnet space; Stage B gets latents·mean − std. */
  prior_denormalize: z.object({ mean: z.number(), std: z.number() }).optional(),
  /** GDF settings of the official Stable Cascade sampler. */
  gdf: z.object({ stage_c_shift: z.number(), stage_b_shift: z.number(), cfg_rho: z.number() }).optional(),
})
export type FamilySettings = z.infer<typeof FamilySettings>

export const Manifest = z.object({
  schema_version: z.literal(1),
  family: Family,
  variant: z.string(),
  /**
   * sha256 over the source checkpoints' hashes and each merged LoRA's hash and strength: identifies the weights,
   * whatever the graph dtype.
   */
  weights_version: z.string(),
  dtype: z.enum(['fp32', 'fp16', 'int8']),
  /** int8 graphs: the patterns of the layers kept in fp32 (the default list and each --keep-fp32). */
  keep_fp32: z.array(z.string()).optional(),
  /** int8 graphs quantized in blocks of this many inputs (`--int8-block`); absent: per channel and per tensor. */
  int8_block: z.number().int().positive().optional(),
  created_by: z.string(),
  /** Random weights (cascade make-tiny): a demo or test model whose images are noise by design. */
  random_weights: z.boolean().optional(),
  /** LoRA files merged into the weights at conversion (`cascade convert --lora`). */
  loras: z.array(ManifestLora).optional(),
  settings: FamilySettings,
  /** Graph name (file without .onnx) -> file, resolved architecture, and for text encoders their tokenizer folder. */
  graphs: z.record(
    z.string(),
    z.object({
      file: z.string(),
      config: z.record(z.string(), z.unknown()),
      tokenizer: z.string().optional(),
    }),
  ),
  files: z.array(ManifestFile),
})
export type Manifest = z.infer<typeof Manifest>

/**
 * Graphs a Stable Cascade directory has when the image checkpoints were there (each optional): names in `graphs`,
 * files `<name>.onnx`; a ControlNet's `<name>.json` holds its type, proj_blocks, c_in, c_proj and hint_stride.
 */
export const IMAGE_GRAPH_NAMES = {
  effnet: 'effnet_encoder',
  clipVision: 'clip_vision',
  previewer: 'previewer',
  controlnet: (type: string) => `controlnet_${type}`,
  /** stage_c.onnx's weights with `cnet_<k>` inputs for the ControlNets' injection points. */
  stageCControlNet: 'stage_c_cnet',
} as const

/**
 * The tile graphs of a directory converted with `--tiling` (blocks/borders.ts): each reads its plain graph's
 * weights file and takes one more input, `tiling` bool (2) = (height, width wraps). Stage C, Stage B, Stage A's
 * decoder, as `graphs` names them.
 */
export const TILE_GRAPHS = { c: 'stage_c_tile', b: 'stage_b_tile', a: 'stage_a_decoder_tile' } as const

/** A graph file's tile variant: stage_c.onnx -> stage_c_tile.onnx. */
export const tileFile = (file: string) => file.replace(/\.onnx$/, '_tile.onnx')

/** Whether a model directory can generate tiled images: it has every tile graph. */
export const supportsTiling = (m: Manifest) => Object.values(TILE_GRAPHS).every((name) => name in m.graphs)

export const FAMILY_SETTINGS: Record<Family, FamilySettings> = {
  'stable-cascade': {
    stage_a_scale: 0.43,
    sampler: 'gdf',
    text: { stage_c: ['hidden_pre_norm', 'text_embeds'], stage_b: ['text_embeds'] },
    gdf: { stage_c_shift: 2, stage_b_shift: 1, cfg_rho: 0.7 },
  },
  'wuerstchen-v2': {
    stage_a_scale: 0.3764,
    sampler: 'ddpm-wuerstchen',
    text: { stage_c: ['last_hidden_state'], stage_b: ['last_hidden_state'] },
    prior_denormalize: { mean: 42, std: 1 },
  },
}
