// The model directories the pipeline benchmarks run on: random weights, real architecture (make-tiny), built
// once into bench/out/models. "mid" is a Stable Cascade about 1/20 of the released Stage C's width per level,
// large enough that model calls, not Node, dominate a step. "lite" is Stable Cascade lite at the released sizes
// (2.4 B parameters, 9.3 GB of fp32 graphs, about 12 minutes to build on 2 cores): only with BENCH_LITE=1, and only
// for memory, since one generation at 1024² takes minutes on a CPU.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { convertModel } from '../../gpu-backend/src/compiler/convert.ts'
import { conditionRandomPrior, makeTiny } from '../../gpu-backend/src/compiler/make-tiny.ts'
import type { Family } from '../../gpu-backend/src/compiler/manifest.ts'
import type { Kwargs } from '../../gpu-backend/src/compiler/models/config.ts'
import type { GraphDtype } from '../../gpu-backend/src/compiler/onnx/graph.ts'
import { sourceStem } from '../../gpu-backend/src/compiler/source-files.ts'
import type { StageId } from '../../gpu-backend/src/compiler/stages.ts'

export interface BenchModel {
  label: string
  dir: string
  /** Image size the benchmarks generate at. */
  size: number
  /** Too large to time on a CPU: measured for memory only. */
  memoryOnly?: boolean
}

export const MID_SC: Partial<Record<StageId, Kwargs>> = {
  text: { hidden_size: 256, intermediate_size: 1024, num_attention_heads: 4, projection_dim: 256 },
  c: {
    c_cond: 512,
    c_hidden: [512, 512],
    nhead: [8, 8],
    blocks: [
      [2, 4],
      [4, 2],
    ],
    c_clip_text: 256,
    c_clip_text_pooled: 256,
  },
  b: { c_cond: 256, c_hidden: [64, 128, 256, 256], nhead: [-1, -1, 4, 4], c_clip: 256 },
  a: { c_hidden: 64 },
  // The image graphs stay tiny; the ControlNets' projections take this Stage C's width.
  controlnet: { c_proj: 512 },
}

/** Stable Cascade lite as released (design notes 3.1, 4.1, 5.1 and the bigG text encoder; the tokenizer is make-tiny's). */
export const LITE_SC: Partial<Record<StageId, Kwargs>> = {
  text: {
    hidden_size: 1280,
    intermediate_size: 5120,
    num_attention_heads: 20,
    num_hidden_layers: 32,
    projection_dim: 1280,
  },
  c: {
    c_cond: 1536,
    c_hidden: [1536, 1536],
    nhead: [24, 24],
    blocks: [
      [4, 12],
      [12, 4],
    ],
    c_clip_text: 1280,
    c_clip_text_pooled: 1280,
    c_clip_img: 768,
  },
  b: {
    c_cond: 1280,
    c_hidden: [320, 576, 1152, 1152],
    nhead: [-1, 9, 18, 18],
    blocks: [
      [2, 4, 14, 4],
      [4, 14, 4, 2],
    ],
    block_repeat: [
      [1, 1, 1, 1],
      [2, 2, 2, 2],
    ],
    c_clip: 1280,
  },
  a: {
    levels: 2,
    bottleneck_blocks: 12,
    c_hidden: 384,
    c_latent: 4,
    codebook_size: 8192,
    scale_factor: 0.43,
  },
  // The image graphs stay tiny (their released sizes are measured nowhere here), but must fit this Stage C: CLIP
  // vision's embeddings its clip_img width, the ControlNets' projections its width (the backend refuses them else).
  clip_vision: { projection_dim: 768 },
  controlnet: { c_proj: 1536 },
}

interface ModelSpec {
  label: string
  name: string
  family: Family
  size: number
  configs?: Partial<Record<StageId, Kwargs>>
  variant?: string
  memoryOnly?: boolean
}

const MODELS: ModelSpec[] = [
  { label: 'tiny Würstchen v2', name: 'tiny-v2', family: 'wuerstchen-v2', size: 512 },
  { label: 'tiny Stable Cascade', name: 'tiny-sc', family: 'stable-cascade', size: 512 },
  {
    label: 'mid Stable Cascade',
    name: 'mid-sc',
    family: 'stable-cascade',
    size: 512,
    configs: MID_SC,
    variant: 'mid',
  },
  ...(process.env.BENCH_LITE === '1'
    ? [
        {
          label: 'Stable Cascade lite (released sizes)',
          name: 'lite-sc',
          family: 'stable-cascade' as const,
          size: 1024,
          configs: LITE_SC,
          variant: 'lite',
          memoryOnly: true,
        },
      ]
    : []),
]

export async function benchModels(only?: (name: string) => boolean): Promise<BenchModel[]> {
  const out: BenchModel[] = []
  for (const m of MODELS) {
    if (only && !only(m.name)) continue
    const dir = join(import.meta.dirname, '..', 'out', 'models', m.name)
    if (!existsSync(join(dir, 'manifest.json')))
      await makeTiny({
        family: m.family,
        outDir: dir,
        seed: 1,
        ...(m.configs ? { configs: m.configs } : {}),
        ...(m.variant ? { variant: m.variant } : {}),
      })
    out.push({ label: m.label, dir, size: m.size, ...(m.memoryOnly ? { memoryOnly: true } : {}) })
  }
  return out
}

/** Stable Cascade big as released (models.md 3.1, 4.1): Stage C 3.6 B, Stage B 1.5 B, lite's text encoder and Stage A. */
export const BIG_SC: Partial<Record<StageId, Kwargs>> = {
  ...LITE_SC,
  c: {
    c_cond: 2048,
    c_hidden: [2048, 2048],
    nhead: [32, 32],
    blocks: [
      [8, 24],
      [24, 8],
    ],
    c_clip_text: 1280,
    c_clip_text_pooled: 1280,
    c_clip_img: 768,
  },
  b: {
    c_cond: 1280,
    c_hidden: [320, 640, 1280, 1280],
    nhead: [-1, -1, 20, 20],
    blocks: [
      [2, 6, 28, 6],
      [6, 28, 6, 2],
    ],
    block_repeat: [
      [1, 1, 1, 1],
      [3, 3, 2, 2],
    ],
    c_clip: 1280,
  },
  controlnet: { c_proj: 2048 },
}

/** Würstchen v2 as released (models.md 8.1–8.3): bigG for the prior, CLIP-H for the decoder. */
export const RELEASED_V2: Partial<Record<StageId, Kwargs>> = {
  text: LITE_SC.text as Kwargs,
  text_2: { hidden_size: 1024, intermediate_size: 4096, num_attention_heads: 16, num_hidden_layers: 24 },
  c: { c_in: 16, c: 1536, c_cond: 1280, c_r: 64, depth: 32, nhead: 24 },
  b: {
    c_cond: 1024,
    c_hidden: [320, 640, 1280, 1280],
    nhead: [-1, 10, 20, 20],
    blocks: [4, 4, 14, 4],
    level_config: ['CT', 'CTA', 'CTA', 'CTA'],
    inject_effnet: [false, true, true, true],
    effnet_embd: 16,
    clip_embd: 1024,
  },
  a: {
    levels: 2,
    bottleneck_blocks: 12,
    embed_dim: 384,
    latent_channels: 4,
    num_vq_embeddings: 8192,
    scale_factor: 0.3764,
  },
}

export interface ReleasedSpec {
  name: string
  family: Family
  variant: string
  configs: Partial<Record<StageId, Kwargs>>
}

/** The precisions a released model is converted to: a graph dtype and its int8 options. */
export const PRECISIONS = {
  fp32: { dtype: 'fp32' },
  int8: { dtype: 'int8' },
  'int8-block32': { dtype: 'int8', int8Block: 32 },
} as const satisfies Record<string, { dtype: GraphDtype; int8Block?: number }>
export type Precision = keyof typeof PRECISIONS

/**
 * A model at its released sizes with random weights (bf16 checkpoints, as released), converted once per precision
 * from the same checkpoints into bench/out/models/released/<name>/<precision>. Only the precisions asked for are
 * built; the checkpoints are removed once they all exist, unless `keepCheckpoints`.
 */
export async function releasedModel(
  spec: ReleasedSpec,
  precisions: Precision[],
  keepCheckpoints = false,
): Promise<Record<string, string>> {
  const root = releasedRoot(spec)
  const src = join(root, 'checkpoints')
  const dirs = Object.fromEntries(precisions.map((p) => [p, join(root, p)]))
  const missing = precisions.filter((p) => !existsSync(join(dirs[p] as string, 'manifest.json')))
  if (missing.length && !existsSync(join(src, 'done'))) {
    // make-tiny writes its checkpoints under <out>/checkpoints and converts them: build there, keep them aside.
    const first = missing.shift() as Precision
    await makeTiny({
      family: spec.family,
      outDir: root,
      seed: 1,
      configs: spec.configs,
      variant: spec.variant,
      fastInit: true,
      checkpointDtype: 'BF16',
      ...PRECISIONS[first],
    })
    moveModel(root, dirs[first] as string)
    // A random v2 prior is ill-conditioned where a trained one is not: measured as is, int8's error there would be
    // the division's, not the quantization's. Conditioned, every precision is converted from the new weights.
    if (spec.family === 'wuerstchen-v2') {
      conditionRandomPrior(join(src, `${sourceStem('c', spec.variant)}.safetensors`))
      rmSync(dirs[first] as string, { recursive: true, force: true })
      missing.unshift(first)
    }
    writeFileSync(join(src, 'done'), '')
  }
  for (const p of missing)
    await convertModel({
      family: spec.family,
      from: src,
      outDir: dirs[p] as string,
      variant: spec.variant,
      randomWeights: true,
      ...PRECISIONS[p],
    })
  if (!keepCheckpoints) rmSync(src, { recursive: true, force: true })
  return dirs
}

export const releasedRoot = (spec: ReleasedSpec) =>
  join(import.meta.dirname, '..', 'out', 'models', 'released', spec.name)

/** Moves a model directory's files (what its manifest lists, and the manifest) into `to`. */
function moveModel(from: string, to: string): void {
  const manifest = JSON.parse(readFileSync(join(from, 'manifest.json'), 'utf8')) as {
    files: { path: string }[]
  }
  for (const f of [...manifest.files.map((x) => x.path), 'manifest.json']) {
    mkdirSync(dirname(join(to, f)), { recursive: true })
    renameSync(join(from, f), join(to, f))
  }
}
