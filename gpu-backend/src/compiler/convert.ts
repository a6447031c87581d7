// Checkpoint files -> ONNX graphs in a model directory (the `cascade convert` command).
import { createHash } from 'node:crypto'
import {
  copyFileSync,
  createReadStream,
  existsSync,
  mkdirSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { basename, join } from 'node:path'
import { type LoraPart, type LoraSpec, readLoraFile } from './lora/lora-file.ts'
import { type MergedLora, mergeLoras } from './lora/merge.ts'
import { FAMILY_SETTINGS, type Family, Manifest } from './manifest.ts'
import { type Kwargs, readConfigFile } from './models/config.ts'
import type { AttentionKernel, GraphDtype } from './onnx/graph.ts'
import { type BuiltGraph, familyStages, type StageId, stageSpec, toOriginalNames } from './stages.ts'
import { SafetensorsFile } from './weights/safetensors.ts'
import { StateDict } from './weights/state-dict.ts'

export interface Progress {
  /** Called once per graph with its tensor count, then once per tensor written. */
  start(label: string, tensors: number): void
  tick(tensor: string): void
  stop(): void
}

export interface ConvertStageOptions {
  family: Family
  stage: StageId
  weights: string[]
  config?: string | Kwargs
  dtype?: GraphDtype
  attention?: AttentionKernel
  extraInputs?: boolean
  outDir: string
  progress?: Progress
  /** LoRA files merged into the weights (`--lora file[:strength]`). */
  loras?: LoraSpec[]
}

export interface WrittenGraph {
  file: string
  config: object
  files: string[]
}

export function loadCheckpoint(paths: string[]): StateDict {
  const sd = StateDict.fromSafetensors(paths.map((p) => SafetensorsFile.open(p)))
  toOriginalNames(sd)
  return sd
}

/** The LoRA part each stage's checkpoint is (Stage C and the text encoder that conditions it). */
const LORA_PART: Partial<Record<StageId, LoraPart>> = { c: 'unet', text: 'text' }

/** Merges LoRA files into the stages' checkpoints; throws before anything is written if one does not fit. */
export function applyLoras(
  checkpoints: Partial<Record<StageId, StateDict>>,
  specs: LoraSpec[],
): MergedLora[] {
  if (!specs.length) return []
  const parts: Partial<Record<LoraPart, StateDict>> = {}
  for (const [stage, sd] of Object.entries(checkpoints) as [StageId, StateDict][]) {
    const part = LORA_PART[stage]
    if (part) parts[part] = sd
  }
  return mergeLoras(
    parts,
    specs.map((s) => readLoraFile(s.path, s.strength)),
  )
}

export function convertStage(o: ConvertStageOptions): WrittenGraph[] {
  const sd = loadCheckpoint(o.weights)
  applyLoras({ [o.stage]: sd }, o.loras ?? [])
  return buildStage(sd, o)
}

function buildStage(sd: StateDict, o: Omit<ConvertStageOptions, 'weights'>): WrittenGraph[] {
  const kwargs = typeof o.config === 'string' ? readConfigFile(o.config) : o.config
  const built = stageSpec(o.family, o.stage).build(sd, kwargs, {
    dtype: o.dtype ?? 'fp32',
    attention: o.attention ?? 'matmul',
    extraInputs: o.extraInputs ?? false,
  })
  mkdirSync(o.outDir, { recursive: true })
  return built.map((b) => writeGraph(b, o.outDir, o.progress))
}

function writeGraph(b: BuiltGraph, outDir: string, progress?: Progress): WrittenGraph {
  // Weights always go to external data: protobuf cannot hold 2 GB, and onnxruntime maps an external file into
  // memory where it would otherwise hold the parsed protobuf and a copy of every tensor (about 1.5x the weights
  // resident after loading, against 1.1x; bench/pipeline.ts measures it).
  const external = b.graph.initializerBytes > 0
  const dataFile = `${b.file}.data`
  rmSync(join(outDir, dataFile), { force: true })
  progress?.start(b.file, b.graph.initializerCount)
  const bytes = b.graph.serialize({
    ...(external ? { externalDataPath: join(outDir, dataFile) } : {}),
    onTensor: (t) => progress?.tick(t),
  })
  progress?.stop()
  writeFileSync(join(outDir, b.file), bytes)
  return { file: b.file, config: b.config, files: external ? [b.file, dataFile] : [b.file] }
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256')
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer)
  return h.digest('hex')
}

/** Checkpoints of one stage found in a folder of official files, plus a config JSON if one sits beside them. */
export interface StageFiles {
  weights: string[]
  config?: string
}

/** File stem of each stage in the original layout (also what make-tiny writes). */
const SOURCE_STEM: Record<StageId, string> = {
  text: 'text_encoder',
  text_2: 'text_encoder_2',
  c: 'stage_c',
  b: 'stage_b',
  a: 'stage_a',
}

/** `_lite` where the lite variant has checkpoints of its own (Stage C and B), else nothing. */
const liteSuffix = (stage: StageId, variant: string) =>
  variant === 'lite' && (stage === 'c' || stage === 'b') ? '_lite' : ''

/** File stem of a stage's original checkpoint, e.g. `stage_c_lite`. */
export const sourceStem = (stage: StageId, variant: string) =>
  `${SOURCE_STEM[stage]}${liteSuffix(stage, variant)}`
const DIFFUSERS_DIR: Record<StageId, string> = {
  text: 'text_encoder',
  text_2: 'text_encoder_2',
  c: 'prior',
  b: 'decoder',
  a: 'vqgan',
}
/** Tokenizer folder that belongs to each text encoder, in the source and in the model directory. */
export const TOKENIZER_DIR: Partial<Record<StageId, string>> = { text: 'tokenizer', text_2: 'tokenizer_2' }
const TOKENIZER_FILES = ['vocab.json', 'merges.txt', 'special_tokens_map.json', 'tokenizer_config.json']

/**
 * Finds each stage's checkpoint: the original layout (`stage_c[_lite][_bf16].safetensors` at the root,
 * with an optional `stage_c[_lite].json` config) or the diffusers layout (`prior[_lite]/`, `decoder[_lite]/`,
 * `vqgan/`, `text_encoder[_2]/` with `*.safetensors` and `config.json`). fp32 files win over bf16 ones.
 * Würstchen v2 spreads over two hub repos: the prior repo's `text_encoder/` + `tokenizer/` (bigG) and the
 * decoder repo's, renamed `text_encoder_2/` + `tokenizer_2/` (CLIP-H).
 */
export function locateStageFiles(from: string, stage: StageId, variant: string): StageFiles {
  const stem = sourceStem(stage, variant)
  const lite = liteSuffix(stage, variant)
  for (const name of [`${stem}.safetensors`, `${stem}_bf16.safetensors`]) {
    const p = join(from, name)
    if (existsSync(p)) {
      const cfg = join(from, `${stem}.json`)
      return { weights: [p], ...(existsSync(cfg) ? { config: cfg } : {}) }
    }
  }
  const dir = join(from, `${DIFFUSERS_DIR[stage]}${lite}`)
  if (existsSync(dir) && statSync(dir).isDirectory()) {
    const all = readdirSync(dir)
      .filter((f) => f.endsWith('.safetensors'))
      .sort()
    const fp32 = all.filter((f) => !/\.(bf16|fp16)\./.test(f))
    const pick = fp32.length ? fp32 : all
    if (pick.length) {
      const cfg = join(dir, 'config.json')
      return { weights: pick.map((f) => join(dir, f)), ...(existsSync(cfg) ? { config: cfg } : {}) }
    }
  }
  throw new Error(
    `no ${variant} stage ${stage} checkpoint in ${from} (looked for ${stem}[_bf16].safetensors and ${DIFFUSERS_DIR[stage]}${lite}/)`,
  )
}

/** Copies a CLIP tokenizer (vocab.json + merges.txt, and the special-token files that fix the pad id). */
function copyTokenizer(src: string, outDir: string, name: string): string[] {
  if (!existsSync(join(src, 'vocab.json')) || !existsSync(join(src, 'merges.txt')))
    throw new Error(`no tokenizer in ${src} (vocab.json and merges.txt)`)
  mkdirSync(join(outDir, name), { recursive: true })
  return TOKENIZER_FILES.filter((f) => existsSync(join(src, f))).map((f) => {
    copyFileSync(join(src, f), join(outDir, name, f))
    return `${name}/${f}`
  })
}

export interface ConvertModelOptions {
  family: Family
  from: string
  outDir: string
  variant?: string
  dtype?: GraphDtype
  attention?: AttentionKernel
  progress?: Progress
  /** The checkpoints are random (make-tiny): the manifest says so, and the edge warns that images are noise. */
  randomWeights?: boolean
  /** LoRA files merged into Stage C and its text encoder. */
  loras?: LoraSpec[]
}

export async function convertModel(o: ConvertModelOptions): Promise<Manifest> {
  const variant = o.variant ?? (o.family === 'stable-cascade' ? 'big' : 'v2')
  const dtype = o.dtype ?? 'fp32'
  const graphs: Manifest['graphs'] = {}
  const sources: string[] = []
  const files: string[] = []
  const stages = familyStages(o.family).map((stage) => {
    const found = locateStageFiles(o.from, stage, variant)
    return { stage, found, sd: loadCheckpoint(found.weights) }
  })
  const merged = applyLoras(Object.fromEntries(stages.map((s) => [s.stage, s.sd])), o.loras ?? [])
  const loras = await Promise.all(merged.map(async (m) => ({ ...m, sha256: await sha256File(m.file) })))
  // Each LoRA's bytes and strength are part of the weights' identity (and so of every cache key).
  for (const l of loras) sources.push(`lora:${l.sha256}:${l.strength}`)
  mkdirSync(o.outDir, { recursive: true })
  for (const { stage, found, sd } of stages) {
    const tokenizer = TOKENIZER_DIR[stage]
    if (tokenizer) files.push(...copyTokenizer(join(o.from, tokenizer), o.outDir, tokenizer))
    for (const w of found.weights) sources.push(`${basename(w)}:${await sha256File(w)}`)
    const written = buildStage(sd, {
      family: o.family,
      stage,
      ...(found.config ? { config: found.config } : {}),
      dtype,
      ...(o.attention ? { attention: o.attention } : {}),
      outDir: o.outDir,
      ...(o.progress ? { progress: o.progress } : {}),
    })
    for (const w of written) {
      graphs[w.file.replace(/\.onnx$/, '')] = {
        file: w.file,
        config: w.config as Record<string, unknown>,
        ...(tokenizer ? { tokenizer } : {}),
      }
      files.push(...w.files)
    }
  }
  const manifest: Manifest = {
    schema_version: 1,
    family: o.family,
    variant,
    weights_version: createHash('sha256').update(sources.sort().join('\n')).digest('hex'),
    dtype,
    created_by: o.randomWeights ? 'cascade make-tiny' : 'cascade convert',
    ...(o.randomWeights ? { random_weights: true } : {}),
    ...(loras.length
      ? {
          loras: loras.map((l) => ({
            file: basename(l.file),
            sha256: l.sha256,
            strength: l.strength,
            format: l.format,
          })),
        }
      : {}),
    settings: FAMILY_SETTINGS[o.family],
    graphs,
    files: await Promise.all(
      files.map(async (f) => ({
        path: f,
        bytes: statSync(join(o.outDir, f)).size,
        sha256: await sha256File(join(o.outDir, f)),
      })),
    ),
  }
  writeFileSync(join(o.outDir, 'manifest.json'), `${JSON.stringify(Manifest.parse(manifest), null, 2)}\n`)
  return manifest
}
