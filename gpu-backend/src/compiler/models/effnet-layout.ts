// The layout of torchvision EfficientNetV2 features in a checkpoint (blocks/efficientnet-v2.ts builds them):
// each stage's block kind, widths, expansion, kernel and layer count from the keys and shapes, its stride from
// EfficientNetV2-S, or everything from a config's inverted_residual_setting.
import type { EffnetLayout, EffnetStage } from '../blocks/efficientnet-v2.ts'
import type { StateDict } from '../weights/state-dict.ts'
import { countEntries } from './cascade-unet.ts'

/** EfficientNetV2-S (torchvision _efficientnet_conf), the released structure. */
export const EFFNET_V2_S: EffnetStage[] = [
  { block: 'F', expand_ratio: 1, kernel: 3, stride: 1, in: 24, out: 24, layers: 2 },
  { block: 'F', expand_ratio: 4, kernel: 3, stride: 2, in: 24, out: 48, layers: 4 },
  { block: 'F', expand_ratio: 4, kernel: 3, stride: 2, in: 48, out: 64, layers: 4 },
  { block: 'M', expand_ratio: 4, kernel: 3, stride: 2, in: 64, out: 128, layers: 6 },
  { block: 'M', expand_ratio: 6, kernel: 3, stride: 1, in: 128, out: 160, layers: 9 },
  { block: 'M', expand_ratio: 6, kernel: 3, stride: 2, in: 160, out: 256, layers: 15 },
]
export const EFFNET_V2_S_LAST_CHANNEL = 1280

/**
 * The layout of the features under `prefix`. With `setting` (a config's inverted_residual_setting) it is taken as
 * given; otherwise each stage's kind, widths, expansion, kernel and layer count come from the checkpoint and its
 * stride from EfficientNetV2-S. Returns undefined when the checkpoint has no such features.
 */
export function effnetLayout(
  sd: StateDict,
  prefix: string,
  setting?: EffnetStage[],
  lastChannel?: number,
): EffnetLayout | undefined {
  const stem = sd.shapeOf(`${prefix}.0.0.weight`)
  if (!stem && !setting) return undefined
  const cIn = stem?.[1] ?? 3
  const n = countEntries(sd, prefix)
  const stages =
    setting ??
    Array.from({ length: Math.max(n - 2, 0) }, (_, i) => stageFromCheckpoint(sd, `${prefix}.${i + 1}`, i))
  const last = stages.at(-1)?.out ?? 0
  return {
    cIn,
    stemPad: cIn === 3 ? 1 : 0,
    stages,
    lastChannel: lastChannel ?? sd.shapeOf(`${prefix}.${stages.length + 1}.0.weight`)?.[0] ?? last,
  }
}

function stageFromCheckpoint(sd: StateDict, p: string, index: number): EffnetStage {
  const shape = (k: string) => sd.shapeOf(`${p}.0.block.${k}`) ?? []
  const mb = sd.has(`${p}.0.block.2.fc1.weight`) || sd.has(`${p}.0.block.1.fc1.weight`)
  const first = shape('0.0.weight')
  const modules = countEntries(sd, `${p}.0.block`)
  const cIn = first[1] ?? 0
  // A block's first conv expands (or, for a FusedMBConv without expansion, is the whole block).
  const expandsFirst = mb ? modules === 4 : modules === 2
  const expanded = expandsFirst ? (first[0] ?? cIn) : cIn
  const kernelConv = mb ? shape(`${expandsFirst ? 1 : 0}.0.weight`) : first
  return {
    block: mb ? 'M' : 'F',
    expand_ratio: expanded / cIn,
    kernel: kernelConv[2] ?? 3,
    stride: EFFNET_V2_S[index]?.stride ?? 1,
    in: cIn,
    out: shape(`${modules - 1}.0.weight`)[0] ?? cIn,
    layers: countEntries(sd, p),
  }
}
