// Which graphs each family's stages compile to, and how a checkpoint in any supported format is
// brought onto the official key names first.

import { type Family, IMAGE_GRAPH_NAMES } from './manifest.ts'
import { buildClipText, clipTextConfig } from './models/clip-text.ts'
import { buildClipVision, clipVisionConfig } from './models/clip-vision.ts'
import type { Kwargs } from './models/config.ts'
import { buildControlNet, controlNetConfig } from './models/controlnet.ts'
import { buildEffnetEncoder, effnetEncoderConfig } from './models/effnet-encoder.ts'
import { buildPreviewer, previewerConfig } from './models/previewer.ts'
import { buildStageADecoder, buildStageAEncoder, stageAConfig } from './models/stage-a.ts'
import { buildStageB, stageBConfig } from './models/stage-b.ts'
import { buildStageC, type StageOptions, stageCConfig } from './models/stage-c.ts'
import { buildWuerstchenDiffNeXt, wuerstchenDiffNeXtConfig } from './models/wuerstchen-diffnext.ts'
import { buildWuerstchenPrior, wuerstchenPriorConfig } from './models/wuerstchen-prior.ts'
import type { Graph } from './onnx/graph.ts'
import { isDiffusersFormat, packDiffusersAttention, renameStageBClipMapper } from './weights/key-map.ts'
import { SafetensorsFile } from './weights/safetensors.ts'
import { StateDict } from './weights/state-dict.ts'

/**
 * `text`: the CLIP text encoder (for v2 the prior's bigG); `text_2`: v2's decoder CLIP-H; then the diffusion stages;
 * then the graphs that turn images into conditioning (Stable Cascade), optional in a model directory.
 */
export const STAGE_IDS = [
  'text',
  'text_2',
  'c',
  'b',
  'a',
  'effnet',
  'clip_vision',
  'previewer',
  'controlnet',
] as const
export type StageId = (typeof STAGE_IDS)[number]
export const IMAGE_STAGES: readonly StageId[] = ['effnet', 'clip_vision', 'previewer', 'controlnet']

export interface BuiltGraph {
  /** File name in the model directory, as the graph contract names it. */
  file: string
  graph: Graph
  /** Resolved architecture, recorded in the manifest. */
  config: object
  /** A JSON file written beside the graph (controlnet.json: what the pipeline needs to feed its outputs). */
  sidecar?: { file: string; json: object }
}

export interface StageSpec {
  build(sd: StateDict, kwargs: Kwargs | undefined, opts: StageOptions): BuiltGraph[]
  /**
   * The files of `build` that have a tile variant (built with `tiling`, written as `<name>_tile.onnx`): the graphs
   * a text-to-image generation runs.
   */
  tiles?: readonly string[]
}

/** Maps diffusers-format names onto the original ones (a no-op for original checkpoints). */
export function toOriginalNames(sd: StateDict): void {
  if (isDiffusersFormat(sd)) packDiffusersAttention(sd)
  renameStageBClipMapper(sd)
}

/** A checkpoint (one file or shards) under the original key names. */
export function loadCheckpoint(paths: string[]): StateDict {
  const sd = StateDict.fromSafetensors(paths.map((p) => SafetensorsFile.open(p)))
  toOriginalNames(sd)
  return sd
}

/** A stage that compiles to one graph; `tiles`: it has a tile variant. */
function oneGraph<C extends object>(
  file: string,
  config: (sd: StateDict, kwargs: Kwargs | undefined) => C,
  build: (sd: StateDict, cfg: C, opts: StageOptions) => Graph,
  tiles = false,
): StageSpec {
  return {
    build(sd, kwargs, opts) {
      const cfg = config(sd, kwargs)
      return [{ file, graph: build(sd, cfg, opts), config: cfg }]
    },
    ...(tiles ? { tiles: [file] } : {}),
  }
}

/** Stage A compiles to the decoder (text-to-image) and the encoder (image reconstruction, img2img). */
function stageA(family: Family): StageSpec {
  return {
    build(sd, kwargs, opts) {
      const config = stageAConfig(sd, family, kwargs)
      return [
        { file: 'stage_a_decoder.onnx', graph: buildStageADecoder(sd, config, opts), config },
        { file: 'stage_a_encoder.onnx', graph: buildStageAEncoder(sd, config, opts), config },
      ]
    },
    tiles: ['stage_a_decoder.onnx'],
  }
}

const textEncoder = oneGraph('text_encoder.onnx', clipTextConfig, buildClipText)

/** Stable Cascade's Stage C; with ControlNet inputs its manifest config lists their blocks. */
const stageC: StageSpec = {
  build(sd, kwargs, opts) {
    const cfg = stageCConfig(sd, kwargs)
    const config = opts.controlnetBlocks ? { ...cfg, controlnetBlocks: opts.controlnetBlocks } : cfg
    return [{ file: 'stage_c.onnx', graph: buildStageC(sd, cfg, opts), config }]
  },
  tiles: ['stage_c.onnx'],
}

/** A ControlNet and its controlnet.json: type, the Stage C ResBlock calls its outputs feed, the hint's stride. */
const controlNet: StageSpec = {
  build(sd, kwargs, opts) {
    const config = controlNetConfig(sd, kwargs)
    const json = {
      type: config.type,
      proj_blocks: config.projBlocks,
      c_in: config.cIn,
      c_proj: config.cProj,
      hint_stride: config.hintStride,
    }
    return [
      {
        file: 'controlnet.onnx',
        graph: buildControlNet(sd, config, opts),
        config,
        sidecar: { file: 'controlnet.json', json },
      },
    ]
  },
}

/** Each family's stages, in conversion order. */
export const STAGES: Record<Family, Partial<Record<StageId, StageSpec>>> = {
  'stable-cascade': {
    text: textEncoder,
    c: stageC,
    b: oneGraph('stage_b.onnx', stageBConfig, buildStageB, true),
    a: stageA('stable-cascade'),
    effnet: oneGraph(`${IMAGE_GRAPH_NAMES.effnet}.onnx`, effnetEncoderConfig, buildEffnetEncoder),
    clip_vision: oneGraph(`${IMAGE_GRAPH_NAMES.clipVision}.onnx`, clipVisionConfig, buildClipVision),
    previewer: oneGraph(`${IMAGE_GRAPH_NAMES.previewer}.onnx`, previewerConfig, buildPreviewer),
    controlnet: controlNet,
  },
  'wuerstchen-v2': {
    text: textEncoder,
    text_2: oneGraph('text_encoder_2.onnx', clipTextConfig, buildClipText),
    c: oneGraph('stage_c.onnx', wuerstchenPriorConfig, buildWuerstchenPrior, true),
    b: oneGraph('stage_b.onnx', wuerstchenDiffNeXtConfig, buildWuerstchenDiffNeXt, true),
    a: stageA('wuerstchen-v2'),
  },
}

/** The stages every model directory of the family has (text-to-image), in conversion order. */
export function familyStages(family: Family): StageId[] {
  return STAGE_IDS.filter((s) => STAGES[family][s] && !IMAGE_STAGES.includes(s))
}

/** The family's image stages, converted when their checkpoints are present. */
export function familyImageStages(family: Family): StageId[] {
  return IMAGE_STAGES.filter((s) => STAGES[family][s])
}

export function stageSpec(family: Family, stage: StageId): StageSpec {
  const spec = STAGES[family][stage]
  if (!spec) throw new Error(`no converter for ${family} stage ${stage}`)
  return spec
}
