// Where each stage's checkpoint sits in a folder of official files: the original layout (files at the root, as
// HF stabilityai/stable-cascade and make-tiny have them) or the diffusers layout (one folder per model).
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import type { StageId } from './stages.ts'

/** Checkpoints of one stage found in a folder of official files, plus a config JSON if one sits beside them. */
export interface StageFiles {
  weights: string[]
  config?: string
}

/** File stem of each stage in the original layout (also what make-tiny writes); ControlNets sit in controlnet/. */
const SOURCE_STEM: Partial<Record<StageId, string>> = {
  text: 'text_encoder',
  text_2: 'text_encoder_2',
  c: 'stage_c',
  b: 'stage_b',
  a: 'stage_a',
  effnet: 'effnet_encoder',
  previewer: 'previewer',
}

/** `_lite` where the lite variant has checkpoints of its own (Stage C and B), else nothing. */
const liteSuffix = (stage: StageId, variant: string) =>
  variant === 'lite' && (stage === 'c' || stage === 'b') ? '_lite' : ''

/** File stem of a stage's original checkpoint, e.g. `stage_c_lite`. */
export const sourceStem = (stage: StageId, variant: string) =>
  `${SOURCE_STEM[stage] ?? stage}${liteSuffix(stage, variant)}`
/** Folder of each stage in the diffusers layout (the CLIP vision tower ships only so, in the prior repo). */
export const DIFFUSERS_DIR: Partial<Record<StageId, string>> = {
  text: 'text_encoder',
  text_2: 'text_encoder_2',
  c: 'prior',
  b: 'decoder',
  a: 'vqgan',
  clip_vision: 'image_encoder',
}
/** Tokenizer folder that belongs to each text encoder, in the source and in the model directory. */
export const TOKENIZER_DIR: Partial<Record<StageId, string>> = { text: 'tokenizer', text_2: 'tokenizer_2' }

/**
 * Finds each stage's checkpoint: the original layout (`stage_c[_lite][_bf16].safetensors` at the root,
 * with an optional `stage_c[_lite].json` config) or the diffusers layout (`prior[_lite]/`, `decoder[_lite]/`,
 * `vqgan/`, `text_encoder[_2]/` with `*.safetensors` and `config.json`). fp32 files win over bf16 ones.
 * Würstchen v2 spreads over two hub repos: the prior repo's `text_encoder/` + `tokenizer/` (bigG) and the
 * decoder repo's, renamed `text_encoder_2/` + `tokenizer_2/` (CLIP-H).
 */
export function locateStageFiles(from: string, stage: StageId, variant: string): StageFiles {
  const found = findStageFiles(from, stage, variant)
  if (found) return found
  const dir = DIFFUSERS_DIR[stage]
  throw new Error(
    `no ${variant} stage ${stage} checkpoint in ${from} (looked for ${sourceStem(stage, variant)}[_bf16].safetensors${dir ? ` and ${dir}${liteSuffix(stage, variant)}/` : ''})`,
  )
}

/** As locateStageFiles, or undefined when the folder has no such checkpoint (the optional image stages). */
export function findStageFiles(from: string, stage: StageId, variant: string): StageFiles | undefined {
  const dir = DIFFUSERS_DIR[stage]
  return findFiles(from, sourceStem(stage, variant), dir && `${dir}${liteSuffix(stage, variant)}`)
}

/** `<stem>[_bf16].safetensors` (+ `<stem>.json`) under `from`, else the `*.safetensors` (+ config.json) of `dir`. */
export function findFiles(from: string, stem: string, dir?: string): StageFiles | undefined {
  for (const name of [`${stem}.safetensors`, `${stem}_bf16.safetensors`]) {
    const p = join(from, name)
    if (existsSync(p)) {
      const cfg = join(from, `${stem}.json`)
      return { weights: [p], ...(existsSync(cfg) ? { config: cfg } : {}) }
    }
  }
  const folder = dir && join(from, dir)
  if (!folder || !existsSync(folder) || !statSync(folder).isDirectory()) return undefined
  const all = readdirSync(folder)
    .filter((f) => f.endsWith('.safetensors'))
    .sort()
  const fp32 = all.filter((f) => !/\.(bf16|fp16)\./.test(f))
  const pick = fp32.length ? fp32 : all
  if (!pick.length) return undefined
  const cfg = join(folder, 'config.json')
  return { weights: pick.map((f) => join(folder, f)), ...(existsSync(cfg) ? { config: cfg } : {}) }
}

/** A released ControlNet's file stem (HF stabilityai/stable-cascade `controlnet/`), e.g. `controlnet/canny`. */
export const controlNetStem = (type: string) => `controlnet/${type}`
