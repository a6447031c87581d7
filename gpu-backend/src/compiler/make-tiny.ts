// `cascade make-tiny`: a complete model directory with random weights and the real architecture,
// written as official-format checkpoints and then compiled by the same path as released weights.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { byteLevelVocab } from '../text/byte-level.ts'
import { convertModel, type Progress } from './convert.ts'
import { writeTinyImageCheckpoints } from './make-tiny-image.ts'
import type { Family, Manifest } from './manifest.ts'
import type { Kwargs } from './models/config.ts'
import type { GraphDtype } from './onnx/graph.ts'
import { sourceStem, TOKENIZER_DIR } from './source-files.ts'
import { familyImageStages, familyStages, type StageId, stageSpec } from './stages.ts'
import { toBFloat16Bits } from './weights/dtype.ts'
import { SafetensorsFile, type TensorToWrite, writeSafetensors } from './weights/safetensors.ts'
import { SchemaRecorder } from './weights/schema-recorder.ts'

/** A tiny CLIP text tower (HF CLIPTextConfig fields) over the byte-level vocabulary of text/byte-level.ts. */
function tinyClip(hidden: number, projection?: number): Kwargs {
  return {
    architectures: [projection ? 'CLIPTextModelWithProjection' : 'CLIPTextModel'],
    vocab_size: TINY_VOCAB_SIZE,
    hidden_size: hidden,
    intermediate_size: 4 * hidden,
    num_hidden_layers: 2,
    num_attention_heads: 2,
    max_position_embeddings: 77,
    hidden_act: 'gelu',
    layer_norm_eps: 1e-5,
    bos_token_id: TINY_VOCAB_SIZE - 2,
    eos_token_id: TINY_VOCAB_SIZE - 1,
    ...(projection ? { projection_dim: projection } : {}),
  }
}
const TINY_VOCAB_SIZE = Object.keys(byteLevelVocab()).length

/**
 * Small configs of the released structures (level patterns, t_conds, c_r as released); the text widths
 * match what the stages consume (SC: c_clip_text, c_clip_text_pooled = c_clip; v2: prior c_cond, decoder clip_embd).
 */
export const TINY_CONFIGS: Record<Family, Partial<Record<StageId, Kwargs>>> = {
  'stable-cascade': {
    text: tinyClip(64, 32),
    c: {
      c_in: 16,
      c_out: 16,
      c_r: 64,
      patch_size: 1,
      c_cond: 64,
      c_hidden: [64, 64],
      nhead: [2, 2],
      blocks: [
        [1, 2],
        [2, 1],
      ],
      block_repeat: [
        [1, 1],
        [1, 1],
      ],
      level_config: ['CTA', 'CTA'],
      c_clip_text: 64,
      c_clip_text_pooled: 32,
      c_clip_img: 24,
      c_clip_seq: 4,
      t_conds: ['sca', 'crp'],
    },
    b: {
      c_in: 4,
      c_out: 4,
      c_r: 64,
      patch_size: 2,
      c_cond: 32,
      c_hidden: [16, 24, 32, 32],
      nhead: [-1, -1, 2, 2],
      blocks: [
        [1, 1, 2, 1],
        [1, 2, 1, 1],
      ],
      block_repeat: [
        [1, 1, 1, 1],
        [2, 2, 1, 1],
      ],
      level_config: ['CT', 'CT', 'CTA', 'CTA'],
      c_clip: 32,
      c_clip_seq: 4,
      c_effnet: 16,
      c_pixels: 3,
      t_conds: ['sca'],
    },
    a: { levels: 2, bottleneck_blocks: 2, c_hidden: 32, c_latent: 4, codebook_size: 64, scale_factor: 0.43 },
  },
  'wuerstchen-v2': {
    text: tinyClip(24),
    text_2: tinyClip(20),
    c: { _class_name: 'WuerstchenPrior', c_in: 16, c: 32, c_cond: 24, c_r: 64, depth: 2, nhead: 2 },
    b: {
      _class_name: 'WuerstchenDiffNeXt',
      c_in: 4,
      c_out: 4,
      c_r: 64,
      patch_size: 2,
      c_cond: 24,
      c_hidden: [8, 16, 24, 32],
      nhead: [-1, 2, 2, 4],
      blocks: [1, 1, 2, 1],
      level_config: ['CT', 'CTA', 'CTA', 'CTA'],
      inject_effnet: [false, true, true, true],
      effnet_embd: 16,
      clip_embd: 20,
      kernel_size: 3,
    },
    a: {
      _class_name: 'PaellaVQModel',
      levels: 2,
      bottleneck_blocks: 2,
      embed_dim: 16,
      latent_channels: 4,
      num_vq_embeddings: 32,
      scale_factor: 0.3764,
    },
  },
}

export function tinyConfig(family: Family, stage: StageId): Kwargs {
  const kwargs = TINY_CONFIGS[family][stage]
  if (!kwargs) throw new Error(`${family} has no stage ${stage}`)
  return kwargs
}

/** mulberry32: a tiny seeded generator, so a seed always gives the same model. */
export function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function normal(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand())
}

/** n draws of a normal distribution with this mean and deviation, or of a uniform one on [lo, hi). */
export interface Draw {
  normal(n: number, mean: number, std: number): Float32Array
  uniform(n: number, lo: number, hi: number): Float32Array
}

/** Draws from `rand` (the tiny models: a seed always gives the same weights). */
export const seededDraw = (rand: () => number): Draw => ({
  normal: (n, mean, std) => Float32Array.from({ length: n }, () => mean + std * normal(rand)),
  uniform: (n, lo, hi) => Float32Array.from({ length: n }, () => lo + (hi - lo) * rand()),
})

/**
 * Uniform draws from xorshift32, the "normal" ones with the same mean and deviation: an order of magnitude faster,
 * for models at the released sizes (billions of weights) that only benchmarks build.
 */
function fast(seed: number): Draw {
  let s = seed >>> 0 || 1
  const uniform = (n: number, lo: number, hi: number) => {
    const k = (hi - lo) / 4294967296
    const out = new Float32Array(n)
    for (let i = 0; i < n; i++) {
      s ^= s << 13
      s ^= s >>> 17
      s ^= s << 5
      out[i] = lo + (s >>> 0) * k
    }
    return out
  }
  return {
    uniform,
    normal: (n, mean, std) => uniform(n, mean - std * Math.sqrt(3), mean + std * Math.sqrt(3)),
  }
}

/** Initialisation in the spirit of the golden sets: no path is zero, activations stay O(1). */
function init(key: string, shape: number[], draw: Draw): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1)
  const fanIn = shape.length > 1 ? shape.slice(1).reduce((a, b) => a * b, 1) : 1
  const gauss = (mean: number, std: number) => draw.normal(n, mean, std)
  if (key.endsWith('running_var')) return draw.uniform(n, 0.5, 1.5)
  if (key.endsWith('running_mean')) return gauss(0, 0.2)
  if (/\.(gamma|beta)$/.test(key)) return gauss(0, 0.2)
  if (key.endsWith('gammas')) return gauss(0, 0.3)
  if (key.endsWith('.bias')) return gauss(0, 0.05)
  if (shape.length === 1) return gauss(1, 0.1) // BatchNorm weight
  const gain = /\.mapper(_\w+)?\.weight$/.test(key) ? 0.35 : 1
  return gauss(0, gain / Math.sqrt(fanIn))
}

/**
 * Random weights for every key the architecture of `kwargs` has, under the official names, drawn as each tensor
 * is written (in key order, so a seed gives the same weights), stored as float32 or, like the released files, bf16.
 */
export function randomCheckpoint(
  family: Family,
  stage: StageId,
  kwargs: Kwargs,
  draw: Draw,
  dtype: 'F32' | 'BF16' = 'F32',
): [string, TensorToWrite][] {
  const rec = new SchemaRecorder()
  stageSpec(family, stage).build(rec, kwargs, {})
  return [...rec.schema].map(([k, shape]) => [
    k,
    {
      dtype,
      shape,
      data: () => (dtype === 'F32' ? init(k, shape, draw) : toBFloat16Bits(init(k, shape, draw))),
    },
  ])
}

export interface MakeTinyOptions {
  family: Family
  outDir: string
  seed?: number
  progress?: Progress
  /** Per-stage constructor arguments merged over the tiny ones (benchmarks build mid-size models this way). */
  configs?: Partial<Record<StageId, Kwargs>>
  /** Manifest variant (default "tiny"). */
  variant?: string
  /** Graph precision (default fp32). */
  dtype?: GraphDtype
  /** int8: layers kept in fp32 besides the default list. */
  keepFp32?: string[]
  /** int8: block size of blockwise quantization. */
  int8Block?: number
  /** Uniform weights from a fast generator instead of Gaussians (released sizes, for benchmarks). */
  fastInit?: boolean
  /** Element type of the checkpoints written under checkpoints/ (default F32; BF16 halves a released size's). */
  checkpointDtype?: 'F32' | 'BF16'
}

export async function makeTiny(o: MakeTinyOptions): Promise<Manifest> {
  const draw = o.fastInit ? fast(o.seed ?? 0) : seededDraw(rng(o.seed ?? 0))
  const src = join(o.outDir, 'checkpoints')
  mkdirSync(src, { recursive: true })
  const variant = o.variant ?? 'tiny'
  const write = (path: string, tensors: [string, TensorToWrite][]) =>
    writeSafetensors(path, tensors, { format: 'pt', generator: 'cascade make-tiny' })
  for (const stage of familyStages(o.family)) {
    const stem = sourceStem(stage, variant)
    const kwargs = { ...tinyConfig(o.family, stage), ...o.configs?.[stage] }
    write(
      join(src, `${stem}.safetensors`),
      randomCheckpoint(o.family, stage, kwargs, draw, o.checkpointDtype),
    )
    writeFileSync(join(src, `${stem}.json`), `${JSON.stringify({ kwargs }, null, 1)}\n`)
    const tokenizer = TOKENIZER_DIR[stage]
    if (tokenizer) {
      mkdirSync(join(src, tokenizer), { recursive: true })
      writeFileSync(join(src, tokenizer, 'vocab.json'), JSON.stringify(byteLevelVocab()))
      writeFileSync(join(src, tokenizer, 'merges.txt'), '#version: 0.2\n')
    }
  }
  if (familyImageStages(o.family).length)
    writeTinyImageCheckpoints(
      src,
      (stage, kwargs) => randomCheckpoint(o.family, stage, kwargs, draw, o.checkpointDtype),
      write,
      o.configs,
    )
  return convertModel({
    family: o.family,
    from: src,
    outDir: o.outDir,
    variant,
    randomWeights: true,
    tiling: true,
    ...(o.dtype ? { dtype: o.dtype } : {}),
    ...(o.keepFp32 ? { keepFp32: o.keepFp32 } : {}),
    ...(o.int8Block ? { int8Block: o.int8Block } : {}),
    ...(o.progress ? { progress: o.progress } : {}),
  })
}

/**
 * Conditions a random Würstchen v2 prior as a trained one is, in place (float32 out). That prior ends in
 * ε = (x − a)/(|1 − b| + 1e-5); with random weights b crosses 1 at some positions, where the division amplifies any
 * float difference (rounding, or int8's quantization) by orders of magnitude. A trained prior keeps |1 − b| away from
 * 0; a random one does once `out.1.bias`'s b half is lowered by `shift`.
 */
export function conditionRandomPrior(path: string, shift = 4): void {
  const ckpt = SafetensorsFile.open(path)
  const tensors = [...ckpt.tensors.values()].map(({ name, shape }): [string, TensorToWrite] => [
    name,
    {
      dtype: 'F32',
      shape,
      data: () => {
        const data = ckpt.readFloat32(name)
        if (name === 'out.1.bias')
          for (let i = data.length / 2; i < data.length; i++) data[i] = (data[i] as number) - shift
        return data
      },
    },
  ])
  // Tensor by tensor into a new file (a released prior is gigabytes), then in place of the old one.
  writeSafetensors(`${path}.tmp`, tensors)
  ckpt.close()
  renameSync(`${path}.tmp`, path)
}
