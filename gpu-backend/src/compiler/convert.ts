// Checkpoint files -> ONNX graphs in a model directory (the `cascade convert` command).
import { createHash } from 'node:crypto'
import {
  copyFileSync,
  createReadStream,
  existsSync,
  mkdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { basename, join } from 'node:path'
import { convertImageStages } from './convert-image.ts'
import { type LoraPart, type LoraSpec, readLoraFile } from './lora/lora-file.ts'
import { type MergedLora, mergeLoras } from './lora/merge.ts'
import { FAMILY_SETTINGS, type Family, Manifest, tileFile } from './manifest.ts'
import { type Kwargs, readConfigFile } from './models/config.ts'
import type { StageOptions } from './models/stage-c.ts'
import type { AttentionKernel, Graph, GraphDtype } from './onnx/graph.ts'
import { defaultKeepFp32 } from './onnx/int8-layers.ts'
import { locateStageFiles, type StageFiles, TOKENIZER_DIR } from './source-files.ts'
import { type BuiltGraph, familyStages, loadCheckpoint, type StageId, stageSpec } from './stages.ts'
import type { StateDict } from './weights/state-dict.ts'

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
  /** int8: layers kept in fp32 besides the default list (glob patterns, onnx/int8-layers.ts). */
  keepFp32?: string[]
  /** int8: quantize in blocks of this many inputs instead of per channel and per tensor (GraphOptions.int8Block). */
  int8Block?: number
  attention?: AttentionKernel
  extraInputs?: boolean
  /** Stage C: ResBlock calls that take a ControlNet input (`cnet_<k>`). */
  controlnetBlocks?: number[]
  outDir: string
  progress?: Progress
  /** LoRA files merged into the weights (`--lora file[:strength]`). */
  loras?: LoraSpec[]
  /** File stem of a one-graph stage's files instead of the contract's (`controlnet_canny` for controlnet.onnx). */
  name?: string
  /** A graph of the same weights already written: share its external data file instead of writing another. */
  shareDataWith?: WrittenGraph
  /** Also write the stage's tile graphs (`<name>_tile.onnx`, reading the plain graph's weights file). */
  tiling?: boolean
}

export interface WrittenGraph {
  file: string
  config: object
  files: string[]
  graph: Graph
  /** The external data file the graph reads its weights from, if any. */
  dataFile?: string
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
  const spec = stageSpec(o.family, o.stage)
  const tiles = spec.tiles
  if (o.tiling && !tiles)
    throw new Error(`stage ${o.stage} has no tile graphs (--tiling builds them for stages c, b and a)`)
  const opts: StageOptions = {
    dtype: o.dtype ?? 'fp32',
    ...(o.dtype === 'int8'
      ? { keepFp32: keepFp32Patterns(o.keepFp32), ...(o.int8Block ? { int8Block: o.int8Block } : {}) }
      : {}),
    attention: o.attention ?? 'matmul',
    extraInputs: o.extraInputs ?? false,
    ...(o.controlnetBlocks ? { controlnetBlocks: o.controlnetBlocks } : {}),
  }
  const built = spec.build(sd, kwargs, opts)
  if (o.name && built.length !== 1) throw new Error(`stage ${o.stage} writes ${built.length} graphs, not one`)
  mkdirSync(o.outDir, { recursive: true })
  const written = built.map((b) =>
    writeGraph(o.name ? renamed(b, o.name) : b, o.outDir, o.progress, o.shareDataWith),
  )
  if (!o.tiling || !tiles) return written
  // Each tile graph beside its plain graph, reading the plain graph's weights.
  const tiled = spec.build(sd, kwargs, { ...opts, tiling: true }).flatMap((t) => {
    const base = written[built.findIndex((b) => b.file === t.file)]
    if (!tiles.includes(t.file) || !base) return []
    return [writeGraph({ ...t, file: tileFile(base.file) }, o.outDir, o.progress, base)]
  })
  return [...written, ...tiled]
}

/** The default keep-fp32 list and the command's own patterns. */
export function keepFp32Patterns(extra: readonly string[] = []): string[] {
  return [...new Set([...defaultKeepFp32(), ...extra])]
}

function renamed(b: BuiltGraph, stem: string): BuiltGraph {
  return {
    ...b,
    file: `${stem}.onnx`,
    ...(b.sidecar ? { sidecar: { ...b.sidecar, file: `${stem}.json` } } : {}),
  }
}

function writeGraph(b: BuiltGraph, outDir: string, progress?: Progress, share?: WrittenGraph): WrittenGraph {
  // Weights always go to external data: protobuf cannot hold 2 GB, and onnxruntime maps an external file into
  // memory where it would otherwise hold the parsed protobuf and a copy of every tensor (about 1.5x the weights
  // resident after loading, against 1.1x; bench/pipeline.ts measures it).
  const external = b.graph.initializerBytes > 0
  const shared = share?.dataFile && b.graph.externalLayout() === share.graph.externalLayout()
  const dataFile = shared ? (share.dataFile as string) : `${b.file}.data`
  if (!shared) rmSync(join(outDir, dataFile), { force: true })
  progress?.start(b.file, b.graph.initializerCount)
  const bytes = b.graph.serialize({
    ...(external ? { externalDataPath: join(outDir, dataFile), reuseExternalData: Boolean(shared) } : {}),
    onTensor: (t) => progress?.tick(t),
  })
  progress?.stop()
  writeFileSync(join(outDir, b.file), bytes)
  const files = [b.file, ...(external && !shared ? [dataFile] : [])]
  if (b.sidecar) {
    writeFileSync(join(outDir, b.sidecar.file), `${JSON.stringify(b.sidecar.json, null, 2)}\n`)
    files.push(b.sidecar.file)
  }
  return { file: b.file, config: b.config, files, graph: b.graph, ...(external ? { dataFile } : {}) }
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256')
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer)
  return h.digest('hex')
}

const TOKENIZER_FILES = ['vocab.json', 'merges.txt', 'special_tokens_map.json', 'tokenizer_config.json']

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
  /** int8: layers kept in fp32 besides the default list. */
  keepFp32?: string[]
  /** int8: block size of blockwise quantization. */
  int8Block?: number
  attention?: AttentionKernel
  progress?: Progress
  /** The checkpoints are random (make-tiny): the manifest says so, and the edge warns that images are noise. */
  randomWeights?: boolean
  /** LoRA files merged into Stage C and its text encoder. */
  loras?: LoraSpec[]
  /** Told about image checkpoints that are present but not converted (a ControlNet that does not fit Stage C). */
  warn?: (message: string) => void
  /** Also write the tile graphs of Stage C, Stage B and Stage A's decoder (manifest.ts TILE_GRAPHS). */
  tiling?: boolean
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
  const checkpoints = Object.fromEntries(stages.map((s) => [s.stage, s.sd])) as Partial<
    Record<StageId, StateDict>
  >
  const merged = applyLoras(checkpoints, o.loras ?? [])
  const loras = await Promise.all(merged.map(async (m) => ({ ...m, sha256: await sha256File(m.file) })))
  // Each LoRA's bytes and strength are part of the weights' identity (and so of every cache key).
  for (const l of loras) sources.push(`lora:${l.sha256}:${l.strength}`)
  mkdirSync(o.outDir, { recursive: true })
  const converted: Partial<Record<StageId, { found: StageFiles; written: WrittenGraph[] }>> = {}
  // A main stage builds from its loaded (LoRA-merged) checkpoint, every time it is built (Stage C twice with
  // ControlNets); image stages load theirs here.
  const convert = async (stage: StageId, found: StageFiles, extra: Partial<ConvertStageOptions> = {}) => {
    for (const w of found.weights) sources.push(`${basename(w)}:${await sha256File(w)}`)
    const tokenizer = TOKENIZER_DIR[stage]
    if (tokenizer) files.push(...copyTokenizer(join(o.from, tokenizer), o.outDir, tokenizer))
    const written = buildStage(checkpoints[stage] ?? loadCheckpoint(found.weights), {
      family: o.family,
      stage,
      ...(found.config ? { config: found.config } : {}),
      dtype,
      ...(o.keepFp32 ? { keepFp32: o.keepFp32 } : {}),
      ...(o.int8Block ? { int8Block: o.int8Block } : {}),
      ...(o.attention ? { attention: o.attention } : {}),
      outDir: o.outDir,
      ...(o.progress ? { progress: o.progress } : {}),
      ...extra,
    })
    for (const w of written) {
      graphs[w.file.replace(/\.onnx$/, '')] = {
        file: w.file,
        config: w.config as Record<string, unknown>,
        ...(tokenizer ? { tokenizer } : {}),
      }
      files.push(...w.files)
    }
    return written
  }
  for (const { stage, found } of stages) {
    const tiling = o.tiling && stageSpec(o.family, stage).tiles ? { tiling: true } : {}
    converted[stage] = { found, written: await convert(stage, found, tiling) }
  }
  const stageC = converted.c
  if (stageC) await convertImageStages(o.family, o.from, stageC, convert, o.warn)
  const manifest: Manifest = {
    schema_version: 1,
    family: o.family,
    variant,
    weights_version: createHash('sha256')
      .update([...new Set(sources)].sort().join('\n'))
      .digest('hex'),
    dtype,
    ...(dtype === 'int8'
      ? { keep_fp32: keepFp32Patterns(o.keepFp32), ...(o.int8Block ? { int8_block: o.int8Block } : {}) }
      : {}),
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
