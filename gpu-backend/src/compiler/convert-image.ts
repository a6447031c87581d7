// `cascade convert --from`: the image graphs of a Stable Cascade folder, when their checkpoints are there under
// the released names: effnet_encoder.safetensors, previewer.safetensors, image_encoder/ (the prior repo's CLIP
// vision tower) and controlnet/{canny,inpainting,super_resolution}.safetensors. ControlNets become
// controlnet_<type>.onnx + .json, and Stage C gets a second graph, stage_c_cnet.onnx, with inputs for every
// injection point they use; it reads stage_c.onnx's weights file, so the plain graph stays as it was.
import type { ConvertStageOptions, WrittenGraph } from './convert.ts'
import { type Family, IMAGE_GRAPH_NAMES } from './manifest.ts'
import { readConfigFile } from './models/config.ts'
import { CONTROLNET_TYPES, type ControlNetConfig, controlNetConfig } from './models/controlnet.ts'
import { resBlockWidths, stageCConfig } from './models/stage-c.ts'
import { controlNetStem, findFiles, findStageFiles, type StageFiles } from './source-files.ts'
import { familyImageStages, loadCheckpoint, type StageId } from './stages.ts'
import { CheckpointError } from './weights/state-dict.ts'

/** Converts one stage of the model directory being written (convertModel's step). */
export type StageConverter = (
  stage: StageId,
  found: StageFiles,
  extra?: Partial<ConvertStageOptions>,
) => Promise<WrittenGraph[]>

const configOf = (found: StageFiles) => (found.config ? readConfigFile(found.config) : undefined)

export async function convertImageStages(
  family: Family,
  from: string,
  stageC: { found: StageFiles; written: WrittenGraph[] },
  convert: StageConverter,
  warn: (message: string) => void = () => {},
): Promise<void> {
  const stages = familyImageStages(family)
  for (const stage of stages.filter((s) => s !== 'controlnet')) {
    const found = findStageFiles(from, stage, 'big')
    if (found) await convert(stage, found)
  }
  if (!stages.includes('controlnet')) return
  const widths = resBlockWidths(stageCConfig(loadCheckpoint(stageC.found.weights), configOf(stageC.found)))
  const blocks = new Set<number>()
  for (const type of CONTROLNET_TYPES) {
    const stem = controlNetStem(type)
    const found = findFiles(from, stem)
    if (!found) continue
    const cfg = controlNetConfig(loadCheckpoint(found.weights), configOf(found))
    if (cfg.type !== type)
      throw new CheckpointError(`${found.weights.join(', ')}: ${article(cfg.type)} ControlNet, not ${type}`)
    if (!fits(cfg, widths)) {
      warn(
        `${stem}.safetensors not converted: its ${cfg.cProj}-channel outputs at ResBlock calls ${cfg.projBlocks} ` +
          `do not fit this Stage C (${widths.length} calls, ${[...new Set(widths)]} channels; the released ` +
          'ControlNets fit Stage C big only)',
      )
      continue
    }
    await convert('controlnet', found, { name: IMAGE_GRAPH_NAMES.controlnet(type) })
    for (const k of cfg.projBlocks) blocks.add(k)
  }
  if (blocks.size)
    await convert('c', stageC.found, {
      controlnetBlocks: [...blocks].sort((a, b) => a - b),
      name: IMAGE_GRAPH_NAMES.stageCControlNet,
      ...(stageC.written[0] ? { shareDataWith: stageC.written[0] } : {}),
    })
}

const article = (word: string) => `${/^[aeiou]/.test(word) ? 'an' : 'a'} ${word}`

/** Every output lands on a ResBlock call of its width. */
function fits(cfg: ControlNetConfig, widths: number[]): boolean {
  return cfg.projBlocks.every((k) => widths[k] === cfg.cProj)
}
