// Which graphs each family's stages compile to, and how a checkpoint in any supported format is
// brought onto the official key names first.
import type { Kwargs } from './models/config.ts'
import { buildStageB, stageBConfig } from './models/stage-b.ts'
import { type StageOptions, buildStageC, stageCConfig } from './models/stage-c.ts'
import type { Graph } from './onnx/graph.ts'
import type { Family } from './manifest.ts'
import { isDiffusersFormat, packDiffusersAttention, renameStageBClipMapper } from './weights/key-map.ts'
import type { StateDict } from './weights/state-dict.ts'

export const STAGE_IDS = ['c', 'b', 'a'] as const
export type StageId = (typeof STAGE_IDS)[number]

export interface BuiltGraph {
  /** File name in the model directory, as the graph contract names it. */
  file: string
  graph: Graph
  /** Resolved architecture, recorded in the manifest. */
  config: object
}

export interface StageSpec {
  build(sd: StateDict, kwargs: Kwargs | undefined, opts: StageOptions): BuiltGraph[]
}

/** Maps diffusers-format names onto the original ones (a no-op for original checkpoints). */
export function toOriginalNames(sd: StateDict): void {
  if (isDiffusersFormat(sd)) packDiffusersAttention(sd)
  renameStageBClipMapper(sd)
}

const stageC: StageSpec = {
  build(sd, kwargs, opts) {
    const config = stageCConfig(sd, kwargs)
    return [{ file: 'stage_c.onnx', graph: buildStageC(sd, config, opts), config }]
  },
}

const stageB: StageSpec = {
  build(sd, kwargs, opts) {
    const config = stageBConfig(sd, kwargs)
    return [{ file: 'stage_b.onnx', graph: buildStageB(sd, config, opts), config }]
  },
}

export const STAGES: Record<Family, Partial<Record<StageId, StageSpec>>> = {
  'stable-cascade': { c: stageC, b: stageB },
  'wuerstchen-v2': {},
}

export function stageSpec(family: Family, stage: StageId): StageSpec {
  const spec = STAGES[family][stage]
  if (!spec) throw new Error(`no converter for ${family} stage ${stage}`)
  return spec
}
