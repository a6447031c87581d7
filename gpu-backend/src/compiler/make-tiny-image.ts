// `cascade make-tiny` for Stable Cascade's image graphs: tiny checkpoints of the real architectures written under
// the released file names and layouts (effnet_encoder.safetensors, previewer.safetensors, image_encoder/ with its
// config.json, controlnet/<type>.safetensors), so that `convert --from` finds them as it finds released files.
// Only ControlNets carry a config beside them: their injection points are not in the checkpoint.
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { EffnetStage } from './blocks/efficientnet-v2.ts'
import type { Kwargs } from './models/config.ts'
import { CONTROLNET_TYPES, type ControlNetType } from './models/controlnet.ts'
import { controlNetStem, DIFFUSERS_DIR, sourceStem } from './source-files.ts'
import type { StageId } from './stages.ts'
import type { TensorToWrite } from './weights/safetensors.ts'

/** EfficientNetV2-S's six stages (kinds, strides, kernels, expansions) at small widths, one block each. */
const TINY_EFFNET: EffnetStage[] = [
  { block: 'F', expand_ratio: 1, kernel: 3, stride: 1, in: 8, out: 8, layers: 1 },
  { block: 'F', expand_ratio: 4, kernel: 3, stride: 2, in: 8, out: 16, layers: 1 },
  { block: 'F', expand_ratio: 4, kernel: 3, stride: 2, in: 16, out: 16, layers: 1 },
  { block: 'M', expand_ratio: 4, kernel: 3, stride: 2, in: 16, out: 24, layers: 1 },
  { block: 'M', expand_ratio: 6, kernel: 3, stride: 1, in: 24, out: 24, layers: 1 },
  { block: 'M', expand_ratio: 6, kernel: 3, stride: 2, in: 24, out: 32, layers: 1 },
]
const TINY_EMBD = 48

/**
 * Widths that fit the tiny Stage C of make-tiny.ts (c_clip_img 24; 6 ResBlock calls of 64 channels) and its
 * Stage B (16 latent channels).
 */
export const TINY_IMAGE_CONFIGS: Partial<Record<StageId, Kwargs>> = {
  effnet: { inverted_residual_setting: TINY_EFFNET, last_channel: TINY_EMBD, c_latent: 16 },
  previewer: { c_in: 16, c_hidden: 32, c_out: 3 },
  clip_vision: {
    architectures: ['CLIPVisionModelWithProjection'],
    model_type: 'clip_vision_model',
    hidden_size: 32,
    intermediate_size: 64,
    projection_dim: 24,
    num_hidden_layers: 2,
    num_attention_heads: 2,
    num_channels: 3,
    image_size: 28,
    patch_size: 14,
    hidden_act: 'quick_gelu',
    layer_norm_eps: 1e-5,
  },
}

const effnetControlNet = (cIn: number, projBlocks: number[]): Kwargs => ({
  bottleneck_mode: 'effnet',
  c_in: cIn,
  c_proj: 64,
  proj_blocks: projBlocks,
  inverted_residual_setting: TINY_EFFNET,
  last_channel: TINY_EMBD,
})

export const TINY_CONTROLNETS: Record<ControlNetType, Kwargs> = {
  canny: effnetControlNet(1, [0, 2, 5]),
  inpainting: effnetControlNet(4, [0, 3]),
  super_resolution: {
    bottleneck_mode: 'large',
    c_in: 16,
    c_proj: 64,
    proj_blocks: [0, 5],
    wide_channels: 64,
    hidden_channels: 32,
    res_blocks: 2,
    last_channel: TINY_EMBD,
  },
}

/** Random tensors of a stage's architecture under `kwargs` (make-tiny's randomCheckpoint). */
export type RandomCheckpoint = (stage: StageId, kwargs: Kwargs) => [string, TensorToWrite][]

/**
 * Writes every tiny image checkpoint into `src`, as the released files are laid out. `overrides` merge over the
 * tiny configs (`controlnet` over each ControlNet's), so a larger Stage C gets image graphs that fit it.
 */
export function writeTinyImageCheckpoints(
  src: string,
  random: RandomCheckpoint,
  write: (path: string, tensors: [string, TensorToWrite][]) => void,
  overrides: Partial<Record<StageId, Kwargs>> = {},
): void {
  const put = (rel: string, tensors: [string, TensorToWrite][], config?: { file: string; json: object }) => {
    mkdirSync(dirname(join(src, rel)), { recursive: true })
    write(join(src, rel), tensors)
    if (config) writeFileSync(join(src, config.file), `${JSON.stringify(config.json, null, 1)}\n`)
  }
  const config = (stage: StageId) => ({ ...TINY_IMAGE_CONFIGS[stage], ...overrides[stage] })
  for (const stage of ['effnet', 'previewer'] as const)
    put(`${sourceStem(stage, 'big')}.safetensors`, random(stage, config(stage)))
  const vision = config('clip_vision')
  put(`${DIFFUSERS_DIR.clip_vision}/model.safetensors`, random('clip_vision', vision), {
    file: `${DIFFUSERS_DIR.clip_vision}/config.json`,
    json: vision,
  })
  for (const type of CONTROLNET_TYPES) {
    const kwargs = { ...TINY_CONTROLNETS[type], ...overrides.controlnet }
    const stem = controlNetStem(type)
    put(`${stem}.safetensors`, random('controlnet', kwargs), { file: `${stem}.json`, json: { kwargs } })
  }
}
