// The released image checkpoints at their real sizes, with no weights: each architecture's key schema at the
// released configuration has the published parameter count (torchvision's efficientnet_v2_s, HF's ViT-L/14
// vision tower, the design notes' previewer and ControlNet counts, image-features.md 3.1 and 5), and a checkpoint of that schema is recognised
// with no config (released variant, type, injection points) and built key for key without reading a tensor.
import { describe, expect, it } from 'vitest'
import type { Kwargs } from '../../gpu-backend/src/compiler/models/config.ts'
import { RELEASED_PROJ_BLOCKS } from '../../gpu-backend/src/compiler/models/controlnet.ts'
import { EFFNET_V2_S, EFFNET_V2_S_LAST_CHANNEL } from '../../gpu-backend/src/compiler/models/effnet-layout.ts'
import { type StageId, stageSpec } from '../../gpu-backend/src/compiler/stages.ts'
import { SchemaRecorder } from '../../gpu-backend/src/compiler/weights/schema-recorder.ts'
import { type LazyTensor, StateDict } from '../../gpu-backend/src/compiler/weights/state-dict.ts'

/** The released constructor arguments (SC modules/*.py defaults, openai/clip-vit-large-patch14's vision config). */
const effnetBackbone = { inverted_residual_setting: EFFNET_V2_S, last_channel: EFFNET_V2_S_LAST_CHANNEL }
const controlnet = (cIn: number): Kwargs => ({
  bottleneck_mode: 'effnet',
  c_in: cIn,
  c_proj: 2048,
  proj_blocks: RELEASED_PROJ_BLOCKS,
  ...effnetBackbone,
})
const RELEASED: Record<string, { stage: StageId; kwargs: Kwargs }> = {
  effnet_encoder: { stage: 'effnet', kwargs: { ...effnetBackbone, c_latent: 16 } },
  previewer: { stage: 'previewer', kwargs: { c_in: 16, c_hidden: 512, c_out: 3 } },
  image_encoder: {
    stage: 'clip_vision',
    kwargs: {
      hidden_size: 1024,
      intermediate_size: 4096,
      projection_dim: 768,
      num_hidden_layers: 24,
      num_attention_heads: 16,
      image_size: 224,
      patch_size: 14,
      hidden_act: 'quick_gelu',
      layer_norm_eps: 1e-5,
    },
  },
  'controlnet/canny': { stage: 'controlnet', kwargs: controlnet(1) },
  'controlnet/inpainting': { stage: 'controlnet', kwargs: controlnet(4) },
  'controlnet/super_resolution': {
    stage: 'controlnet',
    kwargs: {
      bottleneck_mode: 'large',
      c_in: 16,
      c_proj: 2048,
      proj_blocks: RELEASED_PROJ_BLOCKS,
      wide_channels: 16384,
      hidden_channels: 1024,
      res_blocks: 8,
      last_channel: 1280,
    },
  },
}

/** torchvision efficientnet_v2_s: 21,458,488 parameters, of which the classifier Linear(1280, 1000) is 1,281,000. */
const V2S_FEATURES = 21_458_488 - 1_281_000
/** The 8 released projections: Conv 1280 -> 1280 and Conv 1280 -> 2048, no biases. */
const PROJECTIONS = 8 * (1280 * 1280 + 1280 * 2048)
/** The original stem conv (24, 3, 3, 3), replaced by (24, c_in, 3, 3) in the ControlNets. */
const stem = (cIn: number) => 24 * cIn * 9

/** Parameters (everything but BatchNorm running statistics) and running-statistic floats. */
const PUBLISHED: Record<string, { params: number; stats?: number }> = {
  effnet_encoder: { params: V2S_FEATURES + 1280 * 16 },
  // image-features.md 5: 3,975,555 in the convolutions and 4,096 running statistics; the eight BatchNorms add a weight
  // and a bias per channel (4,096), which the 15.9 MB file holds too.
  previewer: { params: 3_975_555 + 4_096, stats: 4_096 },
  image_encoder: { params: 303_179_776 + 786_432, stats: 0 },
  'controlnet/canny': { params: V2S_FEATURES - stem(3) + stem(1) + PROJECTIONS },
  'controlnet/inpainting': { params: V2S_FEATURES - stem(3) + stem(4) + PROJECTIONS },
  'controlnet/super_resolution': { params: 203_491_584, stats: 0 },
}

function schemaOf(stage: StageId, kwargs: Kwargs): Map<string, number[]> {
  const rec = new SchemaRecorder()
  stageSpec('stable-cascade', stage).build(rec, kwargs, {})
  return rec.schema
}

const numel = (shape: number[]) => shape.reduce((a, b) => a * b, 1)

let reads = 0
/** A checkpoint of lazy zeros, with the buffers real files carry that the graphs do not read. */
function checkpoint(name: string, schema: Map<string, number[]>): StateDict {
  const lazy = (shape: number[]): LazyTensor => ({
    shape,
    dtype: 'F32',
    read: () => {
      reads++
      return new Float32Array(numel(shape))
    },
  })
  const entries = new Map([...schema].map(([k, s]) => [k, lazy(s)]))
  for (const k of schema.keys())
    if (k.endsWith('.running_mean')) entries.set(k.replace(/running_mean$/, 'num_batches_tracked'), lazy([]))
  return new StateDict(`${name}.safetensors`, entries)
}

describe('released image checkpoints (schemas at the released sizes)', () => {
  for (const [name, { stage, kwargs }] of Object.entries(RELEASED)) {
    const schema = schemaOf(stage, kwargs)

    it(`${name}: the published parameter count`, () => {
      let params = 0
      let stats = 0
      for (const [k, s] of schema) {
        if (/running_(mean|var)$/.test(k)) stats += numel(s)
        else params += numel(s)
      }
      console.log(`${name}: ${schema.size} tensors, ${params} parameters, ${stats} running statistics`)
      const want = PUBLISHED[name] as { params: number; stats?: number }
      expect(params).toBe(want.params)
      if (want.stats !== undefined) expect(stats).toBe(want.stats)
    })

    it(`${name}: recognised with no config and built key for key, nothing read`, () => {
      reads = 0
      const sd = checkpoint(name, schema)
      const [built] = stageSpec('stable-cascade', stage).build(sd, undefined, {})
      expect(reads).toBe(0)
      const config = built?.config as Record<string, unknown>
      if (stage === 'effnet') expect(config.stages).toEqual(EFFNET_V2_S)
      if (stage === 'previewer') expect(config).toEqual({ cIn: 16, cHidden: 512, cOut: 3 })
      if (stage === 'clip_vision')
        expect(config).toMatchObject({ heads: 16, hiddenAct: 'quick_gelu', imageSize: 224, projection: 768 })
      if (stage === 'controlnet')
        expect(config).toMatchObject({
          type: name.split('/')[1],
          projBlocks: RELEASED_PROJ_BLOCKS,
          cProj: 2048,
        })
    })
  }

  it('a missing, an extra and a misshapen key are all named', () => {
    const schema = new Map(schemaOf('effnet', RELEASED.effnet_encoder?.kwargs as Kwargs))
    const missing = 'backbone.4.2.block.2.fc1.bias'
    const misshapen = 'backbone.6.3.block.3.0.weight'
    schema.delete(missing)
    schema.set(misshapen, [256, 1536, 1, 2])
    schema.set('stray.weight', [3])
    const sd = checkpoint('effnet_encoder', schema)
    expect(() => stageSpec('stable-cascade', 'effnet').build(sd, undefined, {})).toThrow(
      new RegExp(`missing ${missing}[\\s\\S]*wrong shape for ${misshapen}[\\s\\S]*unexpected stray.weight`),
    )
  })

  it('a ControlNet that is not released needs its injection points from a config', () => {
    const kwargs = { ...controlnet(1), c_proj: 1536 }
    const sd = checkpoint('controlnet/canny', schemaOf('controlnet', kwargs))
    expect(() => stageSpec('stable-cascade', 'controlnet').build(sd, undefined, {})).toThrow(
      /not a released ControlNet; pass --config with its proj_blocks/,
    )
  })
})
