// The model registry: ids, per-model defaults and limits, licence. Defaults follow design/models.md; the size
// limits are the API's (api.md), which a model may narrow.

export const MODEL_IDS = ['wuerstchen-v2', 'stable-cascade', 'stable-cascade-lite'] as const
export type ModelId = (typeof MODEL_IDS)[number]
export const DEFAULT_MODEL: ModelId = 'wuerstchen-v2'

export interface ModelDefaults {
  prior_steps: number
  prior_guidance: number
  decoder_steps: number
  decoder_guidance: number
}

export interface ModelLimits {
  min_size: number
  max_size: number
  size_multiple: number
  max_n: number
  max_prior_steps: number
  max_decoder_steps: number
}

export interface ModelInfo {
  id: ModelId
  family: 'wuerstchen-v2' | 'stable-cascade'
  description: string
  defaults: ModelDefaults
  limits: ModelLimits
  license: { id: string; commercial_use: boolean; text: string }
}

const API_LIMITS: ModelLimits = {
  min_size: 512,
  max_size: 1536,
  size_multiple: 128,
  max_n: 4,
  max_prior_steps: 60,
  max_decoder_steps: 30,
}

const SCA_LICENSE = {
  id: 'stable-cascade-research-license',
  commercial_use: false,
  text:
    'Stable Cascade weights are released by Stability AI under the Stability AI Non-Commercial Research ' +
    'Community License: research and non-commercial use only. Generated images may not be used commercially.',
}

export const MODELS: Record<ModelId, ModelInfo> = {
  'wuerstchen-v2': {
    id: 'wuerstchen-v2',
    family: 'wuerstchen-v2',
    description: 'Würstchen v2 (prior + decoder + Paella VQGAN). The default model.',
    // prior_steps 29: the model calls of diffusers' DEFAULT_STAGE_C_TIMESTEPS schedule.
    defaults: { prior_steps: 29, prior_guidance: 4.0, decoder_steps: 12, decoder_guidance: 0 },
    limits: API_LIMITS,
    license: {
      id: 'MIT',
      commercial_use: true,
      text: 'Würstchen v2 weights are released under the MIT licence.',
    },
  },
  'stable-cascade': {
    id: 'stable-cascade',
    family: 'stable-cascade',
    description: 'Stable Cascade, Stage C big + Stage B big + Stage A.',
    defaults: { prior_steps: 20, prior_guidance: 4.0, decoder_steps: 10, decoder_guidance: 1.1 },
    limits: API_LIMITS,
    license: SCA_LICENSE,
  },
  'stable-cascade-lite': {
    id: 'stable-cascade-lite',
    family: 'stable-cascade',
    description: 'Stable Cascade lite, Stage C lite + Stage B lite + Stage A.',
    defaults: { prior_steps: 20, prior_guidance: 4.0, decoder_steps: 10, decoder_guidance: 1.1 },
    limits: API_LIMITS,
    license: SCA_LICENSE,
  },
}

export function isModelId(id: string): id is ModelId {
  return (MODEL_IDS as readonly string[]).includes(id)
}
